package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fused activation backward gives the composed default's bits (grad times the derivative tensor), and refuses misuse. */
class ActivationBackwardOpTest {
    private static int[] bits(Tensor t) {
        float[] v = t.toFloatArray();
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Float.floatToIntBits(v[i]);
        return b;
    }

    @Test void kernelMatchesComposedDefaultBitForBit() {
        Generator gen = new Generator(4);
        for (UnaryOp act : new UnaryOp[] {UnaryOp.GELU, UnaryOp.GELU_TANH, UnaryOp.SILU})
            for (int n : new int[] {1, 17, 2048, 70_001}) {                  // one chunk, many chunks, several threads
                Tensor g = Tensor.randn(gen, n), x = Tensor.randn(gen, n).mul(4f);
                ActivationBackwardOp op = new ActivationBackwardOp(act);
                assertArrayEquals(bits(op.compose(new Tensor[] {g, x}).output()), bits(op.apply(g, x)), act + ", n = " + n);
            }
    }

    @Test void transposedInputsFallBackToTheComposedDefault() {
        Generator gen = new Generator(5);
        Tensor g = Tensor.randn(gen, 30, 40).transpose(0, 1), x = Tensor.randn(gen, 40, 30);
        ActivationBackwardOp op = new ActivationBackwardOp(UnaryOp.GELU);
        assertArrayEquals(bits(op.compose(new Tensor[] {g, x}).output()), bits(op.apply(g, x)));
    }

    @Test void refusesOtherActivationsAndMismatchedShapes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ActivationBackwardOp(UnaryOp.TANH));
        assertTrue(e.getMessage().contains("tanh"), e.getMessage());
        Tensor a = Tensor.zeros(DType.FLOAT32, Device.CPU, 3), b = Tensor.zeros(DType.FLOAT32, Device.CPU, 4);
        e = assertThrows(IllegalArgumentException.class, () -> new ActivationBackwardOp(UnaryOp.SILU).apply(a, b));
        assertTrue(e.getMessage().contains("[3]") && e.getMessage().contains("[4]"), e.getMessage());
    }
}
