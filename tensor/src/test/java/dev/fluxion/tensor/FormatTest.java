package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * toString: PyTorch's nested brackets and number formats, plus shape and dtype. The cases use values of one
 * printed width, where the output is PyTorch's character for character (Fluxion does not pad columns).
 */
class FormatTest {

    @Test void matrixOfWholeFloats() {
        Tensor x = Tensor.arange(0, 6, 1, DType.FLOAT32).reshape(2, 3);
        assertEquals("tensor([[0., 1., 2.],\n        [3., 4., 5.]], shape=[2, 3], dtype=float32)", x.toString());
        assertEquals("tensor([[0., 3.],\n        [1., 4.],\n        [2., 5.]], shape=[3, 2], dtype=float32)", x.t().toString());
    }

    @Test void numberFormats() {
        assertEquals("tensor([0.5000, 1.2500], shape=[2], dtype=float32)", Tensor.of(0.5f, 1.25f).toString());
        assertEquals("tensor([[-0.5000, -1.2500]], shape=[1, 2], dtype=float32)", Tensor.of(new float[] {-0.5f, -1.25f}, 1, 2).toString());
        assertEquals("tensor(2.5000, shape=[], dtype=float64)", Tensor.scalar(2.5, DType.FLOAT64).toString());
        assertEquals("tensor([10, -2, 30], shape=[3], dtype=int64)", Tensor.of(new long[] {10, -2, 30}, 3).toString());
        assertEquals("tensor([[True, True]], shape=[1, 2], dtype=bool)", Tensor.of(new boolean[] {true, true}, 1, 2).toString());
        assertEquals("tensor([False], shape=[1], dtype=bool)", Tensor.of(new boolean[] {false}, 1).toString());
        assertEquals("tensor([1.0000e-05, 2.0000e-05], shape=[2], dtype=float64)", Tensor.of(new double[] {1e-5, 2e-5}, 2).toString());
        assertEquals("tensor([nan, inf, 1.5000], shape=[3], dtype=float32)", Tensor.of(Float.NaN, Float.POSITIVE_INFINITY, 1.5f).toString());
        assertTrue(Tensor.of(Float.NEGATIVE_INFINITY).toString().startsWith("tensor([-inf]"));
        assertEquals("tensor([1., 2.], shape=[2], dtype=bfloat16)", Tensor.of(1f, 2f).to(DType.BFLOAT16).toString());
        assertEquals("tensor([], shape=[0], dtype=float32)", Tensor.zeros(0).toString());
        assertEquals("tensor([1., 1.], shape=[2], dtype=float32, requiresGrad=true)", Tensor.ones(2).requiresGrad(true).toString());
    }

    @Test void largeTensorsAreSummarized() {
        String s = Tensor.arange(2000).toString();
        assertEquals("tensor([0, 1, 2, ..., 1997, 1998, 1999], shape=[2000], dtype=int64)", s);
        String m = Tensor.zeros(DType.INT32, 50, 50).toString();
        assertTrue(m.startsWith("tensor([[0, 0, 0, ..., 0, 0, 0],\n        [0, 0, 0, ..., 0, 0, 0],\n        [0, 0, 0, ..., 0, 0, 0],\n        ...,\n"), m);
        assertTrue(m.endsWith("shape=[50, 50], dtype=int32)"), m);
        assertEquals(7, m.split("\n").length);
    }
}
