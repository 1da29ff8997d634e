package dev.fluxion.autodiff;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.LinearOp;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The CPU linear kernel (bias as the GEMM's starting output, the weight gradient in the weight's layout)
 * against the composed op in float64 (no kernel there): output and gradients, for a batch of rows, 3-dim
 * inputs, a non-contiguous input, a weight given as a transposed view, and only some gradients needed.
 */
class FusedLinearKernelTest {
    private static void assertClose(String what, Tensor expected, Tensor actual) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double[] e = expected.contiguous().toDoubleArray(), a = actual.to(DType.FLOAT64).contiguous().toDoubleArray();
        for (int i = 0; i < e.length; i++) assertEquals(e[i], a[i], 1e-4 * Math.max(1, Math.abs(e[i])), what + " at " + i);
    }

    private static void check(String what, Tensor x, Tensor w, Tensor b) {
        Generator g = new Generator(3);
        Tensor x32 = x.detach().requiresGrad(true), w32 = w.detach().requiresGrad(true), b32 = b.detach().requiresGrad(true);
        Tensor y32 = new LinearOp().apply(x32, w32, b32);
        Tensor r = Tensor.randn(g, y32.shape());
        y32.mul(r).sum().backward();
        Tensor x64 = x.to(DType.FLOAT64).requiresGrad(true), w64 = w.to(DType.FLOAT64).requiresGrad(true), b64 = b.to(DType.FLOAT64).requiresGrad(true);
        Tensor y64 = new LinearOp().apply(x64, w64, b64);
        y64.mul(r.to(DType.FLOAT64)).sum().backward();
        assertClose(what + " y", y64, y32);
        assertClose(what + " dx", x64.grad(), x32.grad());
        assertClose(what + " dweight", w64.grad(), w32.grad());
        assertClose(what + " dbias", b64.grad(), b32.grad());
    }

    @Test void matchesTheComposedOpInFloat64() {
        Generator g = new Generator(1);
        check("2-dim", Tensor.randn(g, 37, 20), Tensor.randn(g, 11, 20), Tensor.randn(g, 11));
        check("3-dim", Tensor.randn(g, 4, 9, 16), Tensor.randn(g, 24, 16), Tensor.randn(g, 24));
        check("one row", Tensor.randn(g, 7), Tensor.randn(g, 5, 7), Tensor.randn(g, 5));
        check("x transposed", Tensor.randn(g, 16, 30).t(), Tensor.randn(g, 8, 16), Tensor.randn(g, 8));
        check("weight transposed view", Tensor.randn(g, 30, 16), Tensor.randn(g, 16, 8).t(), Tensor.randn(g, 8));
    }

    @Test void computesOnlyTheGradientsNeeded() {
        Generator g = new Generator(2);
        Tensor x = Tensor.randn(g, 6, 5), w = Tensor.randn(g, 3, 5).requiresGrad(true), b = Tensor.randn(g, 3);
        new LinearOp().apply(x, w, b).sum().backward();
        assertNull(x.grad());
        assertNull(b.grad());
        assertEquals(3 * 5, w.grad().numel());
        assertClose("dweight", Tensor.ones(6, 3).to(DType.FLOAT64).t().matmul(x.to(DType.FLOAT64)), w.grad());
    }
}
