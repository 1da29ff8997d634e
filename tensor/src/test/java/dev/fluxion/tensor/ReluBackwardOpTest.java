package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ReLU's one-pass backward: the CPU kernel gives the composed default's bits, special values included. */
class ReluBackwardOpTest {
    private static final float[] SPECIAL = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE, -Float.MIN_VALUE};

    private static int[] bits(Tensor t) {
        float[] f = t.toFloatArray();
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) b[i] = Float.floatToRawIntBits(f[i]);
        return b;
    }

    @Test
    void kernelMatchesComposedDefaultBitForBit() {
        Generator gen = new Generator(3);
        for (int n : new int[] {5, 2048 + 7, (1 << 15) * 3 + 11}) {            // a tail only, chunks, parallel pieces
            float[] out = Tensor.randn(gen, n).toFloatArray(), grad = Tensor.randn(gen, n).toFloatArray();
            for (int i = 0; i < n; i += 3) out[i] = SPECIAL[i % SPECIAL.length];
            for (int i = 1; i < n; i += 5) grad[i] = SPECIAL[i % SPECIAL.length];
            Tensor o = Tensor.of(out, n), g = Tensor.of(grad, n);
            ReluBackwardOp op = new ReluBackwardOp();
            assertArrayEquals(bits(op.compose(new Tensor[] {g, o}).output()), bits(op.apply(g, o)), "n = " + n);
        }
    }

    @Test
    void zeroAndNegativeOutputsBlockTheGradientAndNaNPassesIt() {
        Tensor o = Tensor.of(new float[] {0f, -1f, Float.NaN, 2f}, 4), g = Tensor.of(new float[] {5f, 6f, 7f, Float.NaN}, 4);
        float[] r = new ReluBackwardOp().apply(g, o).toFloatArray();
        assertEquals(0f, r[0]);
        assertEquals(0f, r[1]);
        assertEquals(7f, r[2]);
        assertTrue(Float.isNaN(r[3]));
    }

    @Test
    void nonContiguousInputsGiveTheSameValues() {
        Tensor o = Tensor.randn(new Generator(1), 6, 4), g = Tensor.randn(new Generator(2), 6, 4);
        Tensor viaViews = new ReluBackwardOp().apply(g.t(), o.t());
        assertArrayEquals(bits(new ReluBackwardOp().apply(g.t().contiguous(), o.t().contiguous())), bits(viaViews));
    }

    @Test
    void mismatchedShapesAreRefusedNamingTheOp() {
        var e = assertThrows(IllegalArgumentException.class, () -> new ReluBackwardOp().apply(Tensor.zeros(2, 3), Tensor.zeros(3, 2)));
        assertTrue(e.getMessage().startsWith("threshold_backward"), e.getMessage());
    }
}
