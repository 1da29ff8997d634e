package dev.fluxion.nn.lora;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Cutting an NF4 weight into whole-block shares and putting it back (what FSDP does with a QLoRA base):
 * released, it holds only the nested state and refuses to dequantize; every share imported, it is the
 * same weight bit for bit, with a short, odd-length last block and padding blocks past the end.
 */
class Nf4ShardingTest {
    @ParameterizedTest(name = "doubleQuant={0}")
    @ValueSource(booleans = {false, true})
    void exportReleaseImportRestoresTheWeightBitForBit(boolean doubleQuant) {
        Tensor w = Tensor.randn(new Generator(11), 7, 37);           // 259 elements: 5 blocks, the last of 3 elements
        Nf4Weight q = Nf4Weight.quantize(w, doubleQuant);
        Nf4Weight fresh = Nf4Weight.quantize(w, doubleQuant);
        assertEquals(5, q.blocks());
        int shares = 3, perShare = 2, per = q.bytesPerBlock();    // 6 block slots: the last is padding
        assertEquals(32 + (doubleQuant ? 1 : 4), per);
        byte[][] share = new byte[shares][perShare * per];
        for (int r = 0; r < shares; r++) q.exportBlocks(r * perShare, perShare, share[r], 0);

        q.releaseBlocks();
        assertFalse(q.isResident());
        assertEquals(doubleQuant ? 4L * q.nestedAbsmax().length + 4 : 0, q.bytes(), "released: only the nested state is held");
        var e = assertThrows(IllegalStateException.class, () -> q.dequantize());
        assertTrue(e.getMessage().contains("released"), e.getMessage());

        for (int r = shares - 1; r >= 0; r--) q.importBlocks(r * perShare, perShare, share[r], 0);   // any order
        assertTrue(q.isResident());
        assertEquals(fresh.bytes(), q.bytes());
        assertArrayEquals(fresh.packed(), q.packed());
        assertArrayEquals(fresh.rawAbsmax(), q.rawAbsmax());
        assertArrayEquals(fresh.quantizedAbsmax(), q.quantizedAbsmax());
        assertArrayEquals(fresh.dequantize().toFloatArray(), q.dequantize().toFloatArray());
    }
}
