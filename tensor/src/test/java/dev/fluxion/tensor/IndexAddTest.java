package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** indexAdd against a loop, on every dim, with repeated indices, strided src, the float64 (scatterAdd) path and errors. */
class IndexAddTest {
    private static double[] expected(Tensor x, int dim, long[] idx, Tensor src) {
        int[] s = x.shape();
        double[] out = x.toDoubleArray(), v = src.toDoubleArray();
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= s[i];
        for (int i = dim + 1; i < s.length; i++) inner *= s[i];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < idx.length; j++)
                for (int c = 0; c < inner; c++) out[(o * s[dim] + (int) idx[j]) * inner + c] += v[(o * idx.length + j) * inner + c];
        return out;
    }

    @Test
    void matchesALoopOnEveryDimAndDtype() {
        var g = new Generator(3);
        long[] idx = {2, 0, 2, 3, 0};
        for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT64})
            for (int dim = 0; dim < 3; dim++) {
                int[] xs = {4, 5, 70};
                xs[dim] = 4;
                int[] ss = xs.clone();
                ss[dim] = idx.length;
                Tensor x = Tensor.randn(g, dt, xs), src = Tensor.randn(g, dt, ss);
                Tensor strided = src.transpose(0, 2).contiguous().transpose(0, 2);      // same values, another layout
                Tensor y = x.indexAdd(dim, Tensor.of(idx, idx.length), strided);
                assertArrayEquals(expected(x, dim, idx, src), y.toDoubleArray(), dt == DType.FLOAT32 ? 1e-5 : 1e-12, dt + " dim " + dim);
            }
    }

    @Test
    void refusesBadIndicesAndShapes() {
        Tensor x = Tensor.zeros(3, 4);
        var e = assertThrows(IndexOutOfBoundsException.class, () -> x.indexAdd(0, Tensor.of(new long[] {3}, 1), Tensor.ones(1, 4)));
        assertTrue(e.getMessage().contains("indexAdd: index 3 is out of range for dim 0 of size 3"), e.getMessage());
        var s = assertThrows(IllegalArgumentException.class, () -> x.indexAdd(0, Tensor.of(new long[] {0, 1}, 2), Tensor.ones(1, 4)));
        assertTrue(s.getMessage().contains("src shape [1, 4] must be [2, 4]"), s.getMessage());
    }
}
