package dev.fluxion.nn;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Functional.dropout on the CPU: the mask is the generator's own float32 stream &gt;= p (the values CPU tests and
 * references depend on; the fused DropoutOp runs only off the CPU), p == 0 is the identity, p == 1 gives zeros
 * and a zero gradient (as PyTorch), and p outside [0, 1] is refused.
 */
class FunctionalDropoutTest {
    @Test void theCpuMaskIsTheGeneratorsStream() {
        Tensor x = Tensor.randn(new Generator(1), 6, 7);
        float[] u = Tensor.rand(new Generator(4), DType.FLOAT32, 6, 7).toFloatArray(), xs = x.toFloatArray();
        float[] y = Functional.dropout(x, 0.3, new Generator(4)).toFloatArray();
        for (int i = 0; i < u.length; i++) assertEquals(u[i] >= 0.3f ? xs[i] * (float) (1 / 0.7) : 0, y[i], 0f, "element " + i);
    }

    @Test void pZeroIsTheIdentityAndPOneGivesZerosAndAZeroGradient() {
        Tensor x = Tensor.of(new float[] {1, Float.NaN, Float.POSITIVE_INFINITY, -3}, 4).requiresGrad(true);
        assertSame(x, Functional.dropout(x, 0, new Generator(1)));
        Tensor y = Functional.dropout(x, 1, new Generator(1));
        assertArrayEquals(new float[4], y.toFloatArray(), "p = 1: zeros, NaN and inf included");
        y.sum().backward();
        assertArrayEquals(new float[4], x.grad().toFloatArray(), "p = 1: zero gradient (the multiplier is 0, not 1/0)");
    }

    @Test void theModuleTakesPOneAsPyTorchDoes() {
        Dropout drop = new Dropout(1, Init.seed(1));
        assertArrayEquals(new float[3], drop.forward(Tensor.ones(3)).toFloatArray(), "training: zeros");
        drop.eval();
        assertArrayEquals(new float[] {1, 1, 1}, drop.forward(Tensor.ones(3)).toFloatArray(), "eval: the identity");
    }

    @Test void pOutsideZeroOneIsRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> Functional.dropout(Tensor.ones(2), 1.5, new Generator(1)));
        assertEquals("dropout: p must be in [0, 1], got 1.5", e.getMessage());
    }
}
