package dev.fluxion.tensor;

import dev.fluxion.tensor.TensorAssert.Tol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;
import java.util.function.UnaryOperator;

import static dev.fluxion.tensor.TensorAssert.assertClose;
import static dev.fluxion.tensor.TensorAssert.assertLongs;
import static dev.fluxion.tensor.TensorAssert.assertShape;
import static dev.fluxion.tensor.TensorAssert.assertValues;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** matmul (2-D, batched, broadcast, vectors, every BLAS layout), addmm, outer; checked against a naive loop. */
class LinAlgTest {
    /** [B, M, K] @ [B, K, N] by the definition, in double. */
    private static double[] naive(Tensor a, Tensor b) {
        int bs = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
        double[] x = a.toDoubleArray(), y = b.toDoubleArray(), out = new double[bs * m * n];
        for (int p = 0; p < bs; p++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int q = 0; q < k; q++) s += x[(p * m + i) * k + q] * y[(p * k + q) * n + j];
                    out[(p * m + i) * n + j] = s;
                }
        return out;
    }

    private static Tensor wave(DType dt, int... shape) {
        int n = (int) Shape.numel(shape);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = Math.sin(i * 1.3 + shape.length) * 2;
        return Tensor.of(v, shape).to(dt);
    }

    @Test void handChecked() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3), b = Tensor.of(new float[] {7, 8, 9, 10, 11, 12}, 3, 2);
        assertValues(a.matmul(b), new int[] {2, 2}, 58, 64, 139, 154);
        assertValues(b.matmul(a), new int[] {3, 3}, 39, 54, 69, 49, 68, 87, 59, 82, 105);
        assertValues(a.matmul(Tensor.of(1f, 0f, -1f)), new int[] {2}, -2, -2);
        assertValues(Tensor.of(1f, 1f).matmul(a), new int[] {3}, 5, 7, 9);
        assertValues(Tensor.of(1f, 2f, 3f).matmul(Tensor.of(4f, 5f, 6f)), new int[0], 32);
    }

    /** Each operand in every layout CpuMatmul distinguishes: row-major, transposed, with a leading dim, copied. */
    @ParameterizedTest @EnumSource(value = DType.class, names = {"FLOAT32", "FLOAT64"})
    void everyOperandLayout(DType dt) {
        int m = 5, k = 7, n = 3;
        Tensor a = wave(dt, m, k), b = wave(dt, k, n);
        double[] want = naive(a.unsqueeze(0), b.unsqueeze(0));
        List<UnaryOperator<Tensor>> layouts = List.of(
                t -> t,
                t -> t.t().contiguous().t(),                                  // column-major: BLAS transposed
                t -> Layouts.stepped(t),                                       // inner stride 2: copied
                t -> padRows(t),                                               // row stride > cols: leading dim
                t -> padRows(t.t().contiguous()).t());                        // transposed with a leading dim
        Tol tol = dt == DType.FLOAT64 ? new Tol(1e-12, 1e-12) : new Tol(1e-5, 1e-5);
        for (UnaryOperator<Tensor> la : layouts)
            for (UnaryOperator<Tensor> lb : layouts) {
                Tensor x = la.apply(a), y = lb.apply(b);
                assertClose(want, x.matmul(y), tol);
            }
    }

    /** t's values inside a wider buffer: row stride cols + 3, offset 2. */
    private static Tensor padRows(Tensor t) {
        int r = t.size(0), c = t.size(1);
        Tensor big = Tensor.zeros(t.dtype(), r + 1, c + 3);
        Tensor v = big.narrow(1, 2, c).narrow(0, 1, r);
        v.copy_(t);
        return v;
    }

    @Test void batchedAndBroadcast() {
        Tensor a = wave(DType.FLOAT64, 2, 1, 3, 4), b = wave(DType.FLOAT64, 5, 4, 2);
        Tensor c = a.matmul(b);
        assertShape(c, 2, 5, 3, 2);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 5; j++) {
                Tensor ai = a.select(0, i).select(0, 0), bj = b.select(0, j);
                assertClose(ai.matmul(bj), c.select(0, i).select(0, j));
                assertClose(naive(ai.unsqueeze(0), bj.unsqueeze(0)), c.select(0, i).select(0, j), Tol.of(DType.FLOAT64));
            }
        Tensor w = wave(DType.FLOAT64, 4, 6);
        Tensor batch = wave(DType.FLOAT64, 3, 2, 4);
        Tensor out = batch.matmul(w);                       // [3, 2, 4] @ [4, 6]: the matrix is shared
        assertShape(out, 3, 2, 6);
        assertClose(batch.reshape(6, 4).matmul(w).reshape(3, 2, 6), out);
        assertClose(out, batch.transpose(1, 2).contiguous().transpose(1, 2).matmul(w));
        Tensor shared = wave(DType.FLOAT64, 2, 4).expand(3, 2, 4);  // stride-0 batch
        assertClose(wave(DType.FLOAT64, 2, 4).matmul(w).expand(3, 2, 6).contiguous(), shared.matmul(w));
    }

    @Test void vectorCasesDropTheirDim() {
        assertShape(Tensor.ones(4).matmul(Tensor.ones(2, 4, 3)), 2, 3);
        assertShape(Tensor.ones(2, 3, 4).matmul(Tensor.ones(4)), 2, 3);
        assertShape(Tensor.ones(4).matmul(Tensor.ones(4, 5)), 5);
        assertShape(Tensor.ones(3, 4).matmul(Tensor.ones(4)), 3);
        assertShape(Tensor.ones(4).matmul(Tensor.ones(4)), new int[0]);
        Tensor v = Tensor.of(1f, 2f, 3f, 4f, 5f, 6f).slice(0, 0, 6, 2);   // [1, 3, 5], stride 2
        Tensor m = Tensor.of(new float[] {1, 0, 0, 1, 1, 1}, 3, 2);
        assertValues(v.matmul(m), new int[] {2}, 6, 8);
        assertValues(m.t().matmul(v), new int[] {2}, 6, 8);
        assertValues(v.matmul(v), new int[0], 35);
    }

    @Test void emptyAndDegenerateShapes() {
        assertValues(Tensor.ones(2, 0).matmul(Tensor.ones(0, 3)), new int[] {2, 3}, 0, 0, 0, 0, 0, 0);
        assertShape(Tensor.ones(0, 4).matmul(Tensor.ones(4, 3)), 0, 3);
        assertShape(Tensor.ones(2, 4).matmul(Tensor.ones(4, 0)), 2, 0);
        assertValues(Tensor.of(new float[] {2, 3}, 2, 1).matmul(Tensor.of(new float[] {4, 5}, 1, 2)), new int[] {2, 2}, 8, 10, 12, 15);
        assertValues(Tensor.of(new float[] {2}, 1, 1).matmul(Tensor.of(new float[] {4}, 1, 1)), new int[] {1, 1}, 8);
    }

    @ParameterizedTest @EnumSource(value = DType.class, names = {"FLOAT16", "BFLOAT16"})
    void halfPrecisionComputesInFloat32(DType dt) {
        Tensor a = wave(DType.FLOAT32, 4, 8).to(dt), b = wave(DType.FLOAT32, 8, 3).to(dt);
        Tensor c = a.matmul(b);
        assertEquals(dt, c.dtype());
        Tensor ref = a.to(DType.FLOAT32).matmul(b.to(DType.FLOAT32)).to(dt);   // exact inputs, one rounding
        assertClose(ref, c, Tol.EXACT);
        assertClose(ref, a.t().contiguous().t().matmul(b), Tol.of(dt));
    }

    @Test void largerMatmulMatchesNaive() {
        Tensor a = wave(DType.FLOAT64, 64, 96), b = wave(DType.FLOAT64, 96, 80);
        assertClose(naive(a.unsqueeze(0), b.unsqueeze(0)), a.matmul(b), new Tol(1e-12, 1e-11));
        Tensor af = a.to(DType.FLOAT32), bf = b.to(DType.FLOAT32);
        assertClose(naive(af.unsqueeze(0), bf.unsqueeze(0)), af.matmul(bf), new Tol(1e-5, 1e-4));
    }

    /** Short, wide products over a long inner dim run as (b^T a^T)^T (CpuMatmul.transposedIsFaster): every layout, and batched. */
    @ParameterizedTest @EnumSource(value = DType.class, names = {"FLOAT32", "FLOAT64"})
    void shortWideLongInnerProducts(DType dt) {
        int m = 3, k = 90, n = 10;
        Tensor a = wave(dt, m, k), b = wave(dt, k, n);
        Tol tol = dt == DType.FLOAT32 ? new Tol(1e-5, 1e-4) : new Tol(1e-12, 1e-11);
        double[] want = naive(a.unsqueeze(0), b.unsqueeze(0));
        assertClose(want, a.matmul(b), tol);
        assertClose(want, a.t().contiguous().t().matmul(b), tol);                       // a transposed in memory
        assertClose(want, a.matmul(b.t().contiguous().t()), tol);                       // b transposed in memory
        assertClose(want, a.t().contiguous().t().matmul(b.t().contiguous().t()), tol);
        Tensor a3 = wave(dt, 2, m, k), b3 = wave(dt, 2, k, n);
        assertClose(naive(a3, b3), a3.matmul(b3), tol);
    }

    @Test void addmm() {
        Tensor input = Tensor.of(new double[] {1, 1, 1, 1}, 2, 2);
        Tensor m1 = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2), m2 = Tensor.of(new double[] {1, 0, 0, 1}, 2, 2);
        assertValues(input.addmm(m1, m2), new int[] {2, 2}, 2, 3, 4, 5);
        assertValues(input.addmm(m1, m2, 0.5, 2), new int[] {2, 2}, 2.5, 4.5, 6.5, 8.5);
        assertValues(Tensor.of(new double[] {10, 20}, 2).addmm(m1, m2), new int[] {2, 2}, 11, 22, 13, 24);   // bias broadcast
        Tensor nan = Tensor.full(Double.NaN, DType.FLOAT64, Device.CPU, 2, 2);
        assertValues(nan.addmm(m1, m2, 0, 1), new int[] {2, 2}, 1, 2, 3, 4);   // beta = 0 ignores the input, as PyTorch
        assertValues(input.addmm(m1.t(), m2), new int[] {2, 2}, 2, 4, 3, 5);
    }

    @Test void outer() {
        assertValues(Tensor.of(1f, 2f).outer(Tensor.of(3f, 4f, 5f)), new int[] {2, 3}, 3, 4, 5, 6, 8, 10);
        Tensor li = Tensor.of(new long[] {2, -1}, 2).outer(Tensor.of(new long[] {3, 7}, 2));
        assertEquals(DType.INT64, li.dtype());
        assertLongs(li, 6, 14, -3, -7);
        assertValues(Tensor.of(1f, 2f, 3f, 4f).slice(0, 1, 4, 2).outer(Tensor.of(1f)), new int[] {2, 1}, 2, 4);
    }
}
