package dev.fluxion.nn.lora;

import dev.fluxion.nn.ReferenceFile;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * NF4 bytes equal those nn/src/test/python/make_nf4_reference.py computes with NumPy from bitsandbytes'
 * algorithm (bytes and float bit patterns, no tolerance), and the 4-bit layer's chunked matmuls equal
 * dequantize-then-matmul.
 */
class Nf4Test {
    private static ReferenceFile ref;

    @BeforeAll
    static void load() { ref = ReferenceFile.load("nf4.safetensors"); }

    @AfterEach
    void clearTape() { Autodiff.tape().clear(); }

    private static byte[] bytes(Tensor u8) {
        long[] v = u8.toLongArray();
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) v[i];
        return b;
    }

    private static void assertBitsEqual(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++)
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]), what + ": element " + i + " is " + actual[i] + ", expected " + expected[i]);
    }

    @Test
    void dynamicMapIsBitsandbytes() {
        assertBitsEqual("dynamic map", ref.get("dynamic_map").toFloatArray(), DynamicMap.CODE);
    }

    @ParameterizedTest
    @ValueSource(strings = {"random", "zeros_odd", "trained", "small"})
    void bytesEqualTheReference(String name) {
        Tensor w = ref.get(name + ".weight");
        Nf4Weight plain = Nf4Weight.quantize(w, false), dq = Nf4Weight.quantize(w, true);
        assertArrayEquals(bytes(ref.get(name + ".packed")), plain.packed(), "packed NF4 codes");
        assertArrayEquals(plain.packed(), dq.packed(), "double quantization does not touch the codes");
        assertBitsEqual("absmax", ref.get(name + ".absmax").toFloatArray(), plain.rawAbsmax());
        assertArrayEquals(bytes(ref.get(name + ".qabsmax")), dq.quantizedAbsmax(), "8-bit absmax codes");
        assertBitsEqual("nested absmax", ref.get(name + ".absmax2").toFloatArray(), dq.nestedAbsmax());
        assertBitsEqual("offset", ref.get(name + ".offset").toFloatArray(), new float[] {dq.offset()});
        assertBitsEqual("dequantized (double quant)", ref.get(name + ".dequant").toFloatArray(), dq.dequantize().toFloatArray());
        if (ref.tensors().containsKey(name + ".dequant_plain"))
            assertBitsEqual("dequantized (plain)", ref.get(name + ".dequant_plain").toFloatArray(), plain.dequantize().toFloatArray());
        assertArrayEquals(w.shape(), dq.shape());
    }

    @Test
    void edgeCasesOfTheCodeTree() {
        assertEquals(0, Nf4Weight.code(Float.NaN), "an all-zero block (0 * inf) maps to code 0, as the CUDA kernel");
        assertEquals(7, Nf4Weight.code(0f));
        assertEquals(15, Nf4Weight.code(1f));
        assertEquals(0, Nf4Weight.code(-1f));
        assertEquals(7, Nf4Weight.code(0.03979014977812767f), "on the 7/8 midpoint: strict >, so the lower code");
        assertEquals(8, Nf4Weight.code(Math.nextUp(0.03979014977812767f)));
        Nf4Weight zeros = Nf4Weight.quantize(new float[130], new int[] {130}, true);
        for (float v : zeros.dequantize().toFloatArray()) assertEquals(0f, v, 0f);
    }

    @Test
    void bytesPerParameter() {
        Nf4Weight plain = Nf4Weight.quantize(Tensor.randn(new Generator(1), 256, 256), false);
        Nf4Weight dq = Nf4Weight.quantize(Tensor.randn(new Generator(1), 256, 256), true);
        assertEquals(0.5 + 4.0 / 64, (double) plain.bytes() / plain.numel(), 1e-12);
        double perParam = (double) dq.bytes() / dq.numel();
        assertEquals(0.5 + 1.0 / 64 + 4.0 / (64 * 256), perParam, 1e-4);
        assertTrue(perParam <= 0.55, "goal: <= 0.55 bytes per base parameter, got " + perParam);
    }

    /**
     * The layer's chunked dequantize-matmul against dequantize-then-matmul, forward and input gradient, with
     * several chunks (the last partial); an odd input width makes chunks start on odd elements (low nibbles).
     */
    @ParameterizedTest
    @ValueSource(ints = {1100, 37})
    void dequantizeMatmulEqualsDequantizeThenMatmul(int in) {
        Linear dense = new Linear(in, 150, true, Init.seed(4));
        Nf4Linear q = Nf4Linear.from(dense, true).chunkElements(59 * in);
        assertEquals(59, q.chunkRows(), "3 chunks of 150 rows, the last one partial");
        Tensor w = q.weight().dequantize();                           // (150, in)
        Tensor x = Tensor.randn(new Generator(5), DType.FLOAT32, 2, 3, in).requiresGrad(true);
        Tensor y = q.forward(x);
        Tensor r = Tensor.randn(new Generator(6), 2, 3, 150);
        y.mul(r).sum().backward();
        Tensor x2 = x.detach().copy().requiresGrad(true);
        Tensor y2 = x2.matmul(w.t()).add(q.bias());
        y2.mul(r).sum().backward();
        LoraTest.assertClose("forward", y2, y, 1e-6);
        LoraTest.assertClose("input gradient", x2.grad(), x.grad(), 1e-6);
        assertNull(q.bias().grad(), "the base is frozen");
        float[] part = new float[101];                                // a range across blocks, starting on an odd element
        q.weight().dequantize(63, part, 0, part.length);
        float[] all = w.toFloatArray();
        for (int i = 0; i < part.length; i++) assertEquals(all[63 + i], part[i], 0f);
        // close to the dense layer it came from (4-bit error)
        LoraTest.assertClose("near the dense layer", dense.forward(x.detach()), y, 0.2);
    }

    /** Forward and backward never hold a dense copy of the weight: the pool's peak grows by about one chunk, not by W. */
    @Test
    void noDenseCopyOfTheWeightIsKept() {
        Nf4Linear q = Nf4Linear.from(new Linear(512, 1024, false, Init.seed(9)), true).chunkElements(1 << 14);   // W: 2 MiB dense, chunks of 64 KiB
        Tensor x = Tensor.randn(new Generator(10), 4, 512).requiresGrad(true);
        dev.fluxion.tensor.cpu.CpuMemory.resetPeak();
        long before = dev.fluxion.tensor.cpu.CpuMemory.stats().inUse();
        try (var scope = dev.fluxion.tensor.Scope.open()) {
            q.forward(x).sum().backward();
            long grown = dev.fluxion.tensor.cpu.CpuMemory.stats().peak() - before;
            assertTrue(grown < 512 * 1024 * 4 / 4, "peak grew by " + grown + " bytes; the dense weight is " + 512 * 1024 * 4);
        }
    }

    @Test
    void qloraTrainsTheAdapterOverAFourBitBase() {
        Linear dense = new Linear(64, 32, true, Init.seed(7));
        LoraLinear lora = new LoraLinear(Nf4Linear.from(dense, true), LoraLayer.DEFAULT, LoraConfig.of(4, 8), Init.seed(8));
        Lora.freezeAllButAdapters(lora);
        Tensor x = Tensor.randn(new Generator(9), 8, 64);
        float[] base = ((Nf4Linear) lora.base()).forward(x).toFloatArray();
        assertArrayEquals(base, lora.forward(x).toFloatArray(), 0f, "B = 0: QLoRA starts at the 4-bit base's output");
        lora.forward(x).pow(2).sum().backward();
        assertTrue(lora.adapterParameters(LoraLayer.DEFAULT).get("lora_B.weight").grad().abs().sum().item() > 0);
        assertEquals(String.format(java.util.Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f", 4 * 64 + 32 * 4,
                4 * 64 + 32 * 4 + 64 * 32 + 32, 100.0 * (4 * 64 + 32 * 4) / (4 * 64 + 32 * 4 + 64 * 32 + 32)), Lora.describeTrainable(lora));
    }
}
