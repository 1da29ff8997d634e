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

/** Unary, binary, comparison, where, clamp, scalar and in-place ops: values, broadcasting, layouts, dtypes. */
class ElementwiseTest {

    @Test void unaryHandChecked() {
        Tensor x = Tensor.of(new double[] {-2, -0.5, 0, 0.5, 2}, 5);
        assertValues(x.neg(), 2, 0.5, -0.0, -0.5, -2);
        assertValues(x.abs(), 2, 0.5, 0, 0.5, 2);
        assertValues(x.sign(), -1, -1, 0, 1, 1);
        assertValues(x.relu(), 0, 0, 0, 0.5, 2);
        Tol t = Tol.of(DType.FLOAT64);
        assertClose(new double[] {Math.exp(-2), Math.exp(-0.5), 1, Math.exp(0.5), Math.exp(2)}, x.exp(), t);
        assertClose(new double[] {Math.tanh(-2), Math.tanh(-0.5), 0, Math.tanh(0.5), Math.tanh(2)}, x.tanh(), t);
        assertClose(new double[] {1 / (1 + Math.exp(2)), 1 / (1 + Math.exp(0.5)), 0.5, 1 / (1 + Math.exp(-0.5)), 1 / (1 + Math.exp(-2))}, x.sigmoid(), t);
        assertClose(new double[] {-2 / (1 + Math.exp(2)), -0.5 / (1 + Math.exp(0.5)), 0, 0.5 / (1 + Math.exp(-0.5)), 2 / (1 + Math.exp(-2))}, x.silu(), t);
        // GELU(x) = x Phi(x); Phi(2) = 0.9772498680518208, Phi(0.5) = 0.6914624612740131 (tables)
        assertClose(new double[] {-2 * (1 - 0.9772498680518208), -0.5 * (1 - 0.6914624612740131), 0, 0.5 * 0.6914624612740131, 2 * 0.9772498680518208}, x.gelu(), t);
        Tensor p = Tensor.of(new double[] {0.25, 1, 4, 9}, 4);
        assertValues(p.sqrt(), 0.5, 1, 2, 3);
        assertValues(p.rsqrt(), 2, 1, 0.5, 1.0 / 3);
        assertClose(new double[] {Math.log(0.25), 0, Math.log(4), Math.log(9)}, p.log(), t);
        assertClose(new double[] {Math.sin(0.25), Math.sin(1), Math.sin(4), Math.sin(9)}, p.sin(), t);
        assertClose(new double[] {Math.cos(0.25), Math.cos(1), Math.cos(4), Math.cos(9)}, p.cos(), t);
    }

    @Test void specialValues() {
        Tensor x = Tensor.of(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -1f);
        assertValues(x.relu(), Double.NaN, Double.POSITIVE_INFINITY, 0, 0, 0);
        assertClose(new double[] {Double.NaN, Double.POSITIVE_INFINITY, 0, 1, Math.exp(-1)}, x.exp(), Tol.of(DType.FLOAT32));
        assertValues(x.log().slice(0, 3, 5), Double.NEGATIVE_INFINITY, Double.NaN);
        assertClose(new double[] {Double.NaN, 1, 0, 0.5, 1 / (1 + Math.E)}, x.sigmoid(), Tol.of(DType.FLOAT32));
        assertValues(x.sign().slice(0, 1, 5), 1, -1, 0, -1);
        // sign(NaN) is NaN here (Math.signum, NumPy); PyTorch 1.13 returns 0
        assertTrue(Double.isNaN(x.sign().get(0)));
        assertTrue(Double.isNaN(Tensor.of(new double[] {Double.NaN}, 1).sign().item()));
    }

    /** The float-lane kernels (Vector API body + scalar tail) agree with the float64 kernels for every UnaryOp. */
    @ParameterizedTest @EnumSource(UnaryOp.class)
    void floatLanesMatchDoubleLanes(UnaryOp op) {
        boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT;
        int n = 4099;                                      // > Scratch.CHUNK, not a multiple of any vector length
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = positive ? 0.01 + 10.0 * i / n : -9 + 18.0 * i / n + 1e-3 * Math.sin(i);
        Tensor d = Tensor.of(v, n);
        Tensor f = d.to(DType.FLOAT32);
        Tensor expect = f.to(DType.FLOAT64).apply(op);     // same inputs, computed in double
        assertClose(expect.toDoubleArray(), f.apply(op), new Tol(2e-6, 2e-6));
        assertClose(expect.toDoubleArray(), Layouts.stepped(f).apply(op), new Tol(2e-6, 2e-6));
    }

    @Test void binaryHandChecked() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2), b = Tensor.of(new float[] {2, 4, -1, 0.5f}, 2, 2);
        assertValues(a.add(b), new int[] {2, 2}, 3, 6, 2, 4.5);
        assertValues(a.sub(b), new int[] {2, 2}, -1, -2, 4, 3.5);
        assertValues(a.mul(b), new int[] {2, 2}, 2, 8, -3, 2);
        assertValues(a.div(b), new int[] {2, 2}, 0.5, 0.5, -3, 8);
        assertValues(a.pow(b), new int[] {2, 2}, 1, 16, (float) (1.0 / 3), 2);
        assertValues(a.maximum(b), new int[] {2, 2}, 2, 4, 3, 4);
        assertValues(a.minimum(b), new int[] {2, 2}, 1, 2, -1, 0.5);
        assertEquals(DType.FLOAT32, a.add(b).dtype());
    }

    @Test void broadcasting() {
        Tensor col = Tensor.of(new float[] {1, 2, 3}, 3, 1), row = Tensor.of(new float[] {10, 20, 30, 40}, 1, 4);
        assertValues(col.add(row), new int[] {3, 4}, 11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43);
        assertValues(row.sub(col), new int[] {3, 4}, 9, 19, 29, 39, 8, 18, 28, 38, 7, 17, 27, 37);
        Tensor cube = Tensor.arange(0, 24, 1, DType.FLOAT32).reshape(2, 3, 4);
        Tensor vec = Tensor.of(1f, 0f, -1f, 2f);
        Tensor s = cube.mul(vec);
        assertShape(s, 2, 3, 4);
        for (int i = 0; i < 24; i++) assertEquals(i * new float[] {1, 0, -1, 2}[i % 4], s.toFloatArray()[i]);
        Tensor scalar = Tensor.scalar(2);
        assertValues(scalar.mul(row), new int[] {1, 4}, 20, 40, 60, 80);
        assertValues(row.div(scalar), new int[] {1, 4}, 5, 10, 15, 20);
        assertShape(Tensor.ones(2, 1, 3).add(Tensor.ones(4, 1)), 2, 4, 3);
        assertShape(Tensor.ones(0, 3).add(Tensor.ones(1, 3)), 0, 3);
        assertShape(scalar.add(Tensor.scalar(1)), new int[0]);
    }

    @Test void nonContiguousInputs() {
        Tensor m = Tensor.arange(0, 12, 1, DType.FLOAT32).reshape(3, 4);
        Tensor t = m.t();                                   // [4, 3], strides [1, 4]
        Tensor ones = Tensor.ones(4, 3);
        double[] expect = new double[12];
        for (int i = 0; i < 4; i++) for (int j = 0; j < 3; j++) expect[i * 3 + j] = m.get(j, i) + 1;
        assertValues(t.add(ones), new int[] {4, 3}, expect);
        assertValues(ones.add(t), new int[] {4, 3}, expect);
        Tensor stepped = m.slice(1, 1, 4, 2);              // columns 1 and 3
        assertValues(stepped.mul(stepped), new int[] {3, 2}, 1, 9, 25, 49, 81, 121);
        Tensor expanded = Tensor.of(new float[] {1, 2, 3}, 3, 1).expand(3, 4);
        assertEquals(0, expanded.stride()[1]);
        assertValues(expanded.mul(expanded), new int[] {3, 4}, 1, 1, 1, 1, 4, 4, 4, 4, 9, 9, 9, 9);
        assertValues(expanded.sub(m), new int[] {3, 4}, 1, 0, -1, -2, -2, -3, -4, -5, -5, -6, -7, -8);
        Tensor both = m.t().slice(0, 0, 4, 3);             // rows 0 and 3 of the transpose: strides [3, 4]
        assertValues(both.neg(), new int[] {2, 3}, -0.0, -4, -8, -3, -7, -11);
        Tensor out = t.sigmoid();                          // results are contiguous whatever the input layout
        assertTrue(out.isContiguous());
    }

    @Test void largeStridedTensorsUseEveryChunkAndThread() {
        int rows = 301, cols = 517;                        // 155617 elements: several chunks and parallel pieces
        double[] v = new double[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = Math.sin(i * 0.01);
        Tensor x = Tensor.of(v, rows, cols);
        for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor xt = x.to(dt).t();                      // [cols, rows], transposed strides
            Tensor y = xt.mul(xt).add(xt.exp());
            double[] got = y.toDoubleArray();
            double[] src = x.to(dt).toDoubleArray();
            for (int i = 0; i < cols; i++)
                for (int j = 0; j < rows; j++) {
                    double e = src[j * cols + i];
                    double want = e * e + Math.exp(e);
                    assertEquals(want, got[i * rows + j], dt == DType.FLOAT64 ? 1e-12 : 1e-5, () -> dt + " mismatch");
                }
        }
    }

    /** Add, sub, mul, maximum, minimum, neg, abs and comparisons on every dtype that allows them. */
    @ParameterizedTest @EnumSource(value = DType.class, names = {"FLOAT32", "FLOAT64", "FLOAT16", "BFLOAT16", "INT64", "INT32", "INT8", "UINT8"})
    void arithmeticOnEveryDtype(DType dt) {
        Tensor a = Tensor.of(new long[] {1, 5, 7, 12}, 2, 2).to(dt), b = Tensor.of(new long[] {3, 2}, 2).to(dt);
        assertEquals(dt, a.add(b).dtype());
        assertValues(a.add(b), new int[] {2, 2}, 4, 7, 10, 14);
        assertValues(a.mul(b), new int[] {2, 2}, 3, 10, 21, 24);
        assertValues(a.sub(Tensor.of(new long[] {1, 1}, 2).to(dt)), new int[] {2, 2}, 0, 4, 6, 11);
        assertValues(a.maximum(b), new int[] {2, 2}, 3, 5, 7, 12);
        assertValues(a.minimum(b), new int[] {2, 2}, 1, 2, 3, 2);
        assertValues(a.abs(), new int[] {2, 2}, 1, 5, 7, 12);
        assertValues(a.relu(), new int[] {2, 2}, 1, 5, 7, 12);
        assertValues(a.add(3), new int[] {2, 2}, 4, 8, 10, 15);
        assertValues(a.mul(2), new int[] {2, 2}, 2, 10, 14, 24);
        assertValues(a.rsub(20), new int[] {2, 2}, 19, 15, 13, 8);
        Tensor gt = a.gt(b);
        assertEquals(DType.BOOL, gt.dtype());
        assertLongs(gt, 0, 1, 1, 1);
        assertLongs(a.eq(7), 0, 0, 1, 0);
        assertLongs(a.le(b), 1, 0, 0, 0);
        assertLongs(Layouts.transposed(a).ne(b), 1, 1, 1, 1);
        assertValues(Layouts.transposed(a).add(b), new int[] {2, 2}, 4, 7, 10, 14);
        assertValues(Layouts.stepped(a).add(b), new int[] {2, 2}, 4, 7, 10, 14);
        if (dt != DType.UINT8) assertValues(a.neg(), new int[] {2, 2}, -1, -5, -7, -12);
        if (dt.isFloatingPoint()) {
            assertApprox(a.div(b), new int[] {2, 2}, 1.0 / 3, 2.5, 7.0 / 3, 6, Tol.of(dt));
            assertValues(a.pow(2), new int[] {2, 2}, 1, 25, 49, 144);
        }
    }

    private static void assertApprox(Tensor t, int[] shape, double a, double b, double c, double d, Tol tol) {
        assertShape(t, shape);
        assertClose(new double[] {a, b, c, d}, t, tol);
    }

    @Test void integerArithmeticWrapsLikePyTorch() {
        assertLongs(Tensor.of(new long[] {100, -100}, 2).to(DType.INT8).add(Tensor.of(new long[] {100, -100}, 2).to(DType.INT8)), -56, 56);
        assertLongs(Tensor.of(new long[] {0, 255}, 2).to(DType.UINT8).add(Tensor.of(new long[] {-1 & 0xff, 1}, 2).to(DType.UINT8)), 255, 0);
        assertLongs(Tensor.of(new long[] {0, 3}, 2).to(DType.UINT8).sub(Tensor.of(new long[] {1, 5}, 2).to(DType.UINT8)), 255, 254);
        assertLongs(Tensor.of(new long[] {5}, 1).to(DType.UINT8).neg(), 251);
        assertLongs(Tensor.of(new long[] {-128}, 1).to(DType.INT8).abs(), -128);
        assertLongs(Tensor.of(new int[] {Integer.MAX_VALUE, Integer.MIN_VALUE}, 2).add(Tensor.of(new int[] {1, -1}, 2)),
                Integer.MIN_VALUE, Integer.MAX_VALUE);
        assertLongs(Tensor.of(new int[] {65536}, 1).mul(Tensor.of(new int[] {65536}, 1)), 0);
        long big = 1L << 52;                                 // int64 arithmetic is exact below 2^53
        assertLongs(Tensor.of(new long[] {big + 1}, 1).add(Tensor.of(new long[] {big - 3}, 1)), 2 * big - 2);
    }

    @Test void halfPrecisionRoundsOnce() {
        Tensor one = Tensor.ones(DType.FLOAT16, 1);
        // 1 + 2^-11 is a tie between 1 and 1 + 2^-10 in float16: rounds to even (1)
        assertValues(one.add(Math.scalb(1.0, -11)), 1.0);
        assertValues(one.add(Math.scalb(1.5, -11)), 1 + Math.scalb(1.0, -10));
        assertValues(Tensor.full(60000, DType.FLOAT16, Device.CPU, 1).add(10000), Double.POSITIVE_INFINITY);
        Tensor bf = Tensor.ones(DType.BFLOAT16, 1);
        assertValues(bf.add(Math.scalb(1.0, -8)), 1.0);                 // tie -> even
        assertValues(bf.add(Math.scalb(3.0, -8)), 1 + Math.scalb(1.0, -6)); // 1.01171875 rounds up to 1.015625
        assertValues(Tensor.full(3, DType.BFLOAT16, Device.CPU, 1).div(Tensor.full(7, DType.BFLOAT16, Device.CPU, 1)), 0.427734375);
        assertEquals(DType.BFLOAT16, bf.exp().dtype());
        assertClose(new double[] {Math.E}, bf.exp(), Tol.of(DType.BFLOAT16));
    }

    @Test void nanPropagation() {
        Tensor a = Tensor.of(Float.NaN, 1f, Float.NaN), b = Tensor.of(0f, Float.NaN, Float.NaN);
        assertValues(a.maximum(b), Double.NaN, Double.NaN, Double.NaN);
        assertValues(a.minimum(b), Double.NaN, Double.NaN, Double.NaN);
        assertLongs(a.eq(a), 0, 1, 0);
        assertLongs(a.ne(a), 1, 0, 1);
        assertValues(a.clamp(0, 0.5), Double.NaN, 0.5, Double.NaN);
        assertValues(Tensor.of(-0f, 0f).maximum(Tensor.of(0f, -0f)), 0, 0);
    }

    @Test void comparisonsAndScalars() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4}, 4);
        assertLongs(x.lt(2.5), 1, 1, 0, 0);
        assertLongs(x.le(2), 1, 1, 0, 0);
        assertLongs(x.gt(3), 0, 0, 0, 1);
        assertLongs(x.ge(3), 0, 0, 1, 1);
        assertLongs(x.ne(2), 1, 0, 1, 1);
        Tensor col = Tensor.of(new float[] {2, 3}, 2, 1);
        Tensor c = x.gt(col);
        assertShape(c, 2, 4);
        assertLongs(c, 0, 0, 1, 1, 0, 0, 0, 1);
        Tensor bools = Tensor.of(new boolean[] {true, false}, 2);
        assertLongs(bools.eq(Tensor.of(new boolean[] {true, true}, 2)), 1, 0);
        assertValues(x.sub(1.5), -0.5, 0.5, 1.5, 2.5);
        assertValues(x.div(4), 0.25, 0.5, 0.75, 1);
        assertValues(x.pow(0.5), 1, (float) Math.sqrt(2), (float) Math.sqrt(3), 2);
        assertValues(x.rsub(1), 0, -1, -2, -3);
    }

    @Test void whereBroadcastsEveryArgument() {
        Tensor cond = Tensor.of(new boolean[] {true, false, true}, 3, 1);
        Tensor a = Tensor.of(new float[] {1, 2}, 1, 2), b = Tensor.scalar(-1);
        Tensor w = Tensor.where(cond, a, b);
        assertShape(w, 3, 2);
        assertValues(w, 1, 2, -1, -1, 1, 2);
        Tensor ci = Tensor.of(new boolean[] {true, false, true, true}, 2, 2).t();   // non-contiguous: [[T, T], [F, T]]
        Tensor l = Tensor.of(new long[] {10, 20, 30, 40}, 2, 2), r = Tensor.of(new long[] {-1, -2, -3, -4}, 2, 2);
        assertLongs(Tensor.where(ci, l, r), 10, 20, -3, 40);
        Tensor bb = Tensor.where(Tensor.of(new boolean[] {true, false}, 2), Tensor.of(new boolean[] {false, false}, 2), Tensor.of(new boolean[] {true, true}, 2));
        assertEquals(DType.BOOL, bb.dtype());
        assertLongs(bb, 0, 1);
    }

    @Test void clamp() {
        Tensor x = Tensor.of(-3f, -1f, 0f, 2f, 5f);
        assertValues(x.clamp(-1, 2), -1, -1, 0, 2, 2);
        assertValues(x.clampMin(0), 0, 0, 0, 2, 5);
        assertValues(x.clampMax(0), -3, -1, 0, 0, 0);
        assertValues(x.clamp(1, 1), 1, 1, 1, 1, 1);
        Tensor unbounded = x.clamp(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY);
        assertValues(unbounded, -3, -1, 0, 2, 5);
        assertTrue(unbounded.storage() != x.storage(), "clamp returns a new tensor even with no bounds");
        Tensor i = Tensor.of(new long[] {-5, 0, 7}, 3);
        assertEquals(DType.INT64, i.clamp(-1, 3).dtype());
        assertLongs(i.clamp(-1, 3), -1, 0, 3);
        assertLongs(i.clampMin(0), 0, 0, 7);
        assertLongs(Tensor.of(new long[] {-5, 0, 7}, 3).to(DType.UINT8).clamp(1, 4), 4, 1, 4);   // -5 wraps to 251 first
    }

    @Test void inPlaceOps() {
        Tensor x = Tensor.zeros(2, 3);
        x.fill_(2);
        assertValues(x, new int[] {2, 3}, 2, 2, 2, 2, 2, 2);
        x.add_(Tensor.of(1f, 2f, 3f));
        assertValues(x, new int[] {2, 3}, 3, 4, 5, 3, 4, 5);
        x.mul_(0.5);
        assertValues(x, new int[] {2, 3}, 1.5, 2, 2.5, 1.5, 2, 2.5);
        x.copy_(Tensor.of(new double[] {7, 8}, 2, 1));     // broadcast and converted to float32
        assertValues(x, new int[] {2, 3}, 7, 7, 7, 8, 8, 8);
        Tensor ints = Tensor.zeros(DType.INT32, 3);
        ints.copy_(Tensor.of(1.9f, -1.9f, 2.5f));            // float -> int truncates toward zero
        assertLongs(ints, 1, -1, 2);
        x.zero_();
        assertValues(x, new int[] {2, 3}, 0, 0, 0, 0, 0, 0);
        int v = x.storage().version();
        x.fill_(1);
        assertTrue(x.storage().version() > v, "in-place writes bump the storage version");
    }

    @Test void emptyTensorsFlowThroughEveryKernel() {
        Tensor e = Tensor.zeros(0, 3);
        assertShape(e.exp(), 0, 3);
        assertShape(e.add(Tensor.ones(3)), 0, 3);
        assertShape(e.gt(0), 0, 3);
        assertShape(Tensor.where(e.gt(0), e, e), 0, 3);
        assertShape(e.to(DType.FLOAT16), 0, 3);
        assertShape(e.softmax(1), 0, 3);
        assertShape(Tensor.zeros(3, 0).softmax(1), 3, 0);
        assertShape(e.t().contiguous(), 3, 0);
        assertEquals(0, Tensor.of(new float[0]).numel());
    }

    @Test void castsChangeDtypeAndKeepValues() {
        Tensor x = Tensor.of(1.5f, -2.75f, 0f);
        assertSameTensor(x, x.to(DType.FLOAT32));
        assertValues(x.to(DType.FLOAT64), 1.5, -2.75, 0);
        assertValues(x.to(DType.FLOAT16), 1.5, -2.75, 0);
        assertLongs(x.to(DType.INT64), 1, -2, 0);
        assertLongs(x.to(DType.BOOL), 1, 1, 0);
        assertValues(Tensor.of(new boolean[] {true, false}, 2).to(DType.FLOAT32), 1, 0);
    }

    private static void assertSameTensor(Tensor a, Tensor b) { assertTrue(a == b, "expected the same tensor"); }
}
