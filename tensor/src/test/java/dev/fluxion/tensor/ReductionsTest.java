package dev.fluxion.tensor;

import dev.fluxion.tensor.TensorAssert.Tol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static dev.fluxion.tensor.TensorAssert.assertClose;
import static dev.fluxion.tensor.TensorAssert.assertLongs;
import static dev.fluxion.tensor.TensorAssert.assertShape;
import static dev.fluxion.tensor.TensorAssert.assertValues;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** sum, mean, max, min, argmax, argmin, var, std, logsumexp, norm, softmax, logSoftmax, sumTo. */
class ReductionsTest {
    private static final Tensor M = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);  // [[1, 2, 3], [4, 5, 6]]

    @Test void sumAndMeanHandChecked() {
        assertValues(M.sum(), new int[0], 21);
        assertValues(M.sum(0, false), new int[] {3}, 5, 7, 9);
        assertValues(M.sum(1, false), new int[] {2}, 6, 15);
        assertValues(M.sum(1, true), new int[] {2, 1}, 6, 15);
        assertValues(M.sum(-1, false), new int[] {2}, 6, 15);
        assertValues(M.sum(new int[] {0, 1}, true), new int[] {1, 1}, 21);
        assertValues(M.mean(), new int[0], 3.5);
        assertValues(M.mean(0, true), new int[] {1, 3}, 2.5, 3.5, 4.5);
        assertValues(M.mean(new int[] {1}, false), new int[] {2}, 2, 5);
        Tensor x = Tensor.arange(0, 24, 1, DType.FLOAT64).reshape(2, 3, 4);
        assertValues(x.sum(new int[] {0, 2}, false), new int[] {3}, 0 + 1 + 2 + 3 + 12 + 13 + 14 + 15, 4 + 5 + 6 + 7 + 16 + 17 + 18 + 19, 8 + 9 + 10 + 11 + 20 + 21 + 22 + 23);
        assertValues(x.sum(new int[] {2, 0}, true), new int[] {1, 3, 1}, 60, 92, 124);      // order of dims does not matter
    }

    @Test void maxMinArgHandChecked() {
        Tensor x = Tensor.of(new float[] {3, 7, 7, -1, 0, 9, 2, 9}, 2, 4);
        assertValues(x.max(), new int[0], 9);
        assertValues(x.min(), new int[0], -1);
        assertValues(x.max(1, false), new int[] {2}, 7, 9);
        assertValues(x.min(0, true), new int[] {1, 4}, 0, 7, 2, -1);
        assertLongs(x.argmax(1, false), 1, 1);          // ties: the first index, as PyTorch
        assertLongs(x.argmin(1, true), 3, 0);
        assertShape(x.argmin(1, true), 2, 1);
        assertLongs(x.argmax(), 5);
        assertLongs(x.argmin(), 3);
        assertEquals(DType.INT64, x.argmax(0, false).dtype());
        assertLongs(x.argmax(0, false), 0, 1, 0, 1);
        Tensor n = Tensor.of(1f, Float.NaN, 5f, Float.NaN);
        assertTrue(Double.isNaN(n.max().item()), "max propagates NaN");
        assertTrue(Double.isNaN(n.min().item()), "min propagates NaN");
        assertLongs(n.argmax(), 1);                      // NaN counts as the largest, first one wins
        assertLongs(n.argmin(), 1);
        assertValues(Tensor.of(Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY).max(), new int[0], Double.NEGATIVE_INFINITY);
    }

    @Test void varStdLogsumexpNorm() {
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4}, 4);
        Tol t = Tol.of(DType.FLOAT64);
        assertClose(new double[] {5.0 / 3}, x.var(), t);
        assertClose(new double[] {1.25}, x.var(new int[] {0}, false, 0), t);
        assertClose(new double[] {Math.sqrt(5.0 / 3)}, x.std(), t);
        assertClose(new double[] {Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(4))}, x.logsumexp(0, false), t);
        assertClose(new double[] {Math.sqrt(30)}, x.norm(), t);
        assertClose(new double[] {10}, x.norm(1), t);
        assertClose(new double[] {4}, x.norm(Double.POSITIVE_INFINITY), t);
        assertClose(new double[] {Math.cbrt(100)}, x.norm(3), t);
        Tensor m = Tensor.of(new double[] {1, 3, 2, 6}, 2, 2);
        assertClose(new double[] {2, 8}, m.var(new int[] {1}, false), t);
        assertShape(m.std(new int[] {0}, true), 1, 2);
        assertClose(new double[] {Math.sqrt(0.5), Math.sqrt(4.5)}, m.std(new int[] {0}, true), t);
        assertClose(new double[] {Math.sqrt(10), Math.sqrt(40)}, m.norm(2, new int[] {1}, false), t);
        Tensor big = Tensor.of(new double[] {1000, 1000, Double.NEGATIVE_INFINITY}, 3);
        assertClose(new double[] {1000 + Math.log(2)}, big.logsumexp(0, false), t);   // no overflow
        Tensor allMasked = Tensor.full(Double.NEGATIVE_INFINITY, DType.FLOAT64, Device.CPU, 2, 3);
        assertValues(allMasked.logsumexp(1, true), new int[] {2, 1}, Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY);
        assertTrue(Double.isNaN(Tensor.of(new double[] {5}, 1).var().item()), "var of one element with correction 1 is NaN (0/0)");
    }

    @Test void softmaxAndLogSoftmax() {
        Tensor x = Tensor.of(new double[] {1, 2, 3, 1, 1, 1}, 2, 3);
        double z = Math.exp(1) + Math.exp(2) + Math.exp(3);
        Tol t = Tol.of(DType.FLOAT64);
        assertClose(new double[] {Math.exp(1) / z, Math.exp(2) / z, Math.exp(3) / z, 1 / 3.0, 1 / 3.0, 1 / 3.0}, x.softmax(1), t);
        assertClose(new double[] {1 - Math.log(z), 2 - Math.log(z), 3 - Math.log(z), -Math.log(3), -Math.log(3), -Math.log(3)}, x.logSoftmax(-1), t);
        Tensor s0 = x.softmax(0);
        double e1 = Math.exp(1), e2 = Math.exp(2), e3 = Math.exp(3);
        assertClose(new double[] {0.5, e2 / (e2 + e1), e3 / (e3 + e1), 0.5, e1 / (e2 + e1), e1 / (e3 + e1)}, s0, t);
        Tensor f = Tensor.of(new float[] {1000, 1001, Float.NEGATIVE_INFINITY}, 3);
        assertClose(new double[] {1 / (1 + Math.E), Math.E / (1 + Math.E), 0}, f.softmax(0), Tol.of(DType.FLOAT32));
        Tensor r = Tensor.randn(new Generator(3), 4, 5, 6);
        for (int d = 0; d < 3; d++) {
            Tensor sums = r.softmax(d).sum(d, false);
            assertClose(Tensor.ones(sums.shape()).toDoubleArray(), sums, Tol.of(DType.FLOAT32));
            assertClose(r.softmax(d).log(), r.logSoftmax(d), new Tol(1e-5, 1e-5));
            assertClose(r.softmax(d), Layouts.transposed(r).softmax(d), Tol.of(DType.FLOAT32));
        }
        assertValues(Tensor.scalar(3).softmax(0), new int[0], 1);
        assertValues(Tensor.scalar(3).logSoftmax(-1), new int[0], 0);
    }

    @ParameterizedTest @EnumSource(value = DType.class, names = {"INT64", "INT32", "INT8", "UINT8", "BOOL"})
    void integerSumsAreInt64(DType dt) {
        Tensor x = Tensor.of(new long[] {100, 100, 100, 1, 0, 1}, 2, 3).to(dt);
        Tensor s = x.sum();
        assertEquals(DType.INT64, s.dtype());
        assertLongs(s, dt == DType.BOOL ? 5 : 302);        // no wrap-around at the input's width
        assertEquals(DType.INT64, x.sum(1, false).dtype());
        assertLongs(x.sum(1, true), dt == DType.BOOL ? new long[] {3, 2} : new long[] {300, 2});
        assertLongs(Layouts.transposed(x).sum(0, false), dt == DType.BOOL ? new long[] {2, 1, 2} : new long[] {101, 100, 101});
        if (dt != DType.BOOL) {
            assertEquals(dt, x.max().dtype());
            assertLongs(x.max(0, false), 100, 100, 100);
            assertLongs(x.min(new int[] {0, 1}, false), 0);
            assertLongs(x.argmin(1, false), 0, 1);
        }
    }

    @Test void int64SumIsExactBeyondFloatPrecision() {
        long big = 1L << 40;
        Tensor x = Tensor.of(new long[] {big, 1, big, 3}, 4);
        assertLongs(x.sum(), 2 * big + 4);
    }

    @Test void halfPrecisionReductions() {
        Tensor x = Tensor.full(0.1, DType.FLOAT16, Device.CPU, 1000);
        Tensor s = x.sum();                                 // accumulated in float, rounded once: ~99.94
        assertEquals(DType.FLOAT16, s.dtype());
        assertClose(new double[] {1000 * 0.0999755859375}, s, Tol.of(DType.FLOAT16));
        assertClose(new double[] {0.0999755859375}, x.mean(), Tol.of(DType.FLOAT16));
        Tensor b = Tensor.arange(0, 64, 1, DType.BFLOAT16).reshape(8, 8);
        assertValues(b.max(1, false), new int[] {8}, 7, 15, 23, 31, 39, 47, 55, 63);
        assertLongs(b.argmax(0, false), 7, 7, 7, 7, 7, 7, 7, 7);
    }

    @Test void nonContiguousInputs() {
        Tensor x = Tensor.arange(0, 60, 1, DType.FLOAT64).reshape(3, 4, 5);
        for (int[] dims : new int[][] {{0}, {1}, {2}, {0, 2}, {1, 2}, {}}) {
            Tensor expected = x.sum(dims, true);
            assertClose(expected, Layouts.transposed(x).sum(dims, true));
            assertClose(expected, Layouts.stepped(x).sum(dims, true));
            assertClose(x.max(dims, false), Layouts.stepped(x).max(dims, false));
            assertClose(x.var(dims, false), Layouts.transposed(x).var(dims, false));
        }
        Tensor e = x.expand(2, 3, 4, 5);                        // stride-0 leading dim
        assertValues(e.sum(0, false).sub(x.mul(2)).abs().max(), new int[0], 0);
        Tensor p = x.permute(2, 0, 1);
        assertLongs(p.argmax(2, false), x.argmax(1, false).t().toLongArray());
    }

    @Test void largeTensorsTakeTheParallelAndFastPaths() {
        int n = 200_003;
        Tensor ones = Tensor.ones(n);
        assertValues(ones.sum(), new int[0], n);                             // one long row split across threads
        assertValues(Tensor.ones(DType.FLOAT64, n).mean(), new int[0], 1);
        Tensor v = Tensor.arange(0, n, 1, DType.FLOAT32);
        assertValues(v.max(), new int[0], n - 1);
        assertValues(v.min(), new int[0], 0);
        assertLongs(v.argmax(), n - 1);
        Tensor withNaN = Tensor.ones(n);
        withNaN.slice(0, n - 1, n).fill_(Double.NaN);
        assertTrue(Double.isNaN(withNaN.max().item()));
        assertTrue(Double.isNaN(withNaN.sum().item()));

        int rows = 3001, cols = 70;                                           // leading-dim sum (bias gradients)
        float[] mv = new float[rows * cols];
        for (int i = 0; i < mv.length; i++) mv[i] = (i % 7) - 3;
        Tensor m = Tensor.of(mv, rows, cols);
        double[] want = new double[cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) want[c] += mv[r * cols + c];
        assertClose(want, m.sum(0, false), Tol.EXACT);
        assertClose(want, m.t().sum(1, false), Tol.EXACT);
        assertClose(want, Layouts.stepped(m).sum(0, false), Tol.EXACT);
        double[] rowWant = new double[rows];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) rowWant[r] += mv[r * cols + c];
        assertClose(rowWant, m.sum(1, false), Tol.EXACT);
        assertClose(rowWant, m.t().sum(0, true), Tol.EXACT);
    }

    @Test void largeSoftmaxRunsRowsInParallel() {
        Tensor x = Tensor.randn(new Generator(8), 4000, 33);          // 132 000 elements: several parallel pieces
        for (int d : new int[] {1, 0}) {                              // the last dim, and a strided one
            Tensor s = x.softmax(d), ls = x.logSoftmax(d);
            Tensor sums = s.sum(d, false);
            assertClose(Tensor.ones(sums.shape()).toDoubleArray(), sums, new Tol(1e-5, 1e-5));
            Tensor x64 = x.to(DType.FLOAT64);
            assertClose(x64.softmax(d).toDoubleArray(), s, new Tol(1e-5, 1e-7));
            assertClose(x64.logSoftmax(d).toDoubleArray(), ls, new Tol(1e-5, 1e-5));
        }
    }

    @Test void zeroDimTensorsReduceOverDimZero() {
        Tensor s = Tensor.scalar(5);
        assertValues(s.sum(0, false), new int[0], 5);
        assertValues(s.sum(-1, true), new int[0], 5);
        assertValues(s.mean(0, false), new int[0], 5);
        assertValues(s.max(0, false), new int[0], 5);
        assertLongs(s.argmax(0, false), 0);
        assertValues(s.logsumexp(0, false), new int[0], 5);
        assertValues(s.sum(), new int[0], 5);
        assertLongs(s.argmax(), 0);
    }

    @Test void emptyDims() {
        Tensor e = Tensor.zeros(3, 0);
        assertValues(e.sum(1, false), new int[] {3}, 0, 0, 0);
        assertShape(e.sum(0, false), 0);
        assertValues(Tensor.zeros(0).sum(), new int[0], 0);
    }

    @Test void sumToReversesBroadcasting() {
        Tensor g = Tensor.ones(2, 3, 4);
        assertValues(g.sumTo(4), new int[] {4}, 6, 6, 6, 6);
        assertValues(g.sumTo(3, 1), new int[] {3, 1}, 8, 8, 8);
        assertValues(g.sumTo(1, 1, 4), new int[] {1, 1, 4}, 6, 6, 6, 6);
        assertValues(g.sumTo(new int[0]), new int[0], 24);
        assertTrue(g.sumTo(2, 3, 4) == g, "sumTo to the same shape returns the tensor");
    }
}
