package dev.fluxion.tensor;

import dev.fluxion.tensor.TensorAssert.Tol;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;

import static dev.fluxion.tensor.TensorAssert.assertClose;
import static dev.fluxion.tensor.TensorAssert.assertLongs;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Random chains of views (permute, slice with steps, select, unsqueeze, expand, narrow) over a base whose
 * value at each storage index is that index, so the expected value of every element follows from the view's
 * offset and strides alone. Reads, elementwise ops, reductions and writes through each view are checked
 * against that, for float64, float32, float16 and int64 storage (every path of the CPU kernels' gathers).
 */
class StridedLayoutsTest {
    private static final int TRIALS = 300;

    private record Chain(int[] baseShape, List<UnaryOperator<Tensor>> steps, String text) {
        Tensor apply(Tensor base) {
            Tensor v = base;
            for (UnaryOperator<Tensor> s : steps) v = s.apply(v);
            return v;
        }
    }

    /** A random chain; each step is chosen against the shape the previous steps produce. */
    private static Chain randomChain(Random r) {
        int rank = 1 + r.nextInt(4);
        int[] shape = new int[rank];
        for (int i = 0; i < rank; i++) shape[i] = 1 + r.nextInt(5);
        Tensor probe = Tensor.zeros(DType.BOOL, shape);
        List<UnaryOperator<Tensor>> steps = new ArrayList<>();
        StringBuilder text = new StringBuilder(Arrays.toString(shape));
        int n = 1 + r.nextInt(4);
        for (int k = 0; k < n; k++) {
            int rk = probe.dim();
            UnaryOperator<Tensor> step;
            String desc;
            switch (r.nextInt(6)) {
                case 0 -> {
                    int[] order = shuffled(r, rk);
                    step = t -> t.permute(order);
                    desc = ".permute" + Arrays.toString(order);
                }
                case 1 -> {
                    int d = r.nextInt(rk), size = probe.size(d);
                    int start = r.nextInt(size), end = start + 1 + r.nextInt(size - start), st = 1 + r.nextInt(3);
                    step = t -> t.slice(d, start, end, st);
                    desc = ".slice(" + d + ", " + start + ", " + end + ", " + st + ")";
                }
                case 2 -> {
                    if (rk < 2) continue;
                    int d = r.nextInt(rk), i = r.nextInt(probe.size(d));
                    step = t -> t.select(d, i);
                    desc = ".select(" + d + ", " + i + ")";
                }
                case 3 -> {
                    if (rk > 4) continue;
                    int d = r.nextInt(rk + 1), size = 1 + r.nextInt(3);
                    int[] target = probe.unsqueeze(d).shape();
                    target[d] = size;
                    step = t -> t.unsqueeze(d).expand(target);
                    desc = ".unsqueeze(" + d + ").expand" + Arrays.toString(target);
                }
                case 4 -> {
                    int a = r.nextInt(rk), b = r.nextInt(rk);
                    step = t -> t.transpose(a, b);
                    desc = ".transpose(" + a + ", " + b + ")";
                }
                default -> {
                    int d = r.nextInt(rk), size = probe.size(d);
                    int start = r.nextInt(size), len = 1 + r.nextInt(size - start);
                    step = t -> t.narrow(d, start, len);
                    desc = ".narrow(" + d + ", " + start + ", " + len + ")";
                }
            }
            probe = step.apply(probe);
            steps.add(step);
            text.append(desc);
        }
        return new Chain(shape, steps, text.toString());
    }

    private static int[] shuffled(Random r, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** The storage index of every element of v, row-major. */
    private static double[] storageIndices(Tensor v) {
        int[] shape = v.shape();
        long[] stride = v.stride();
        double[] out = new double[(int) v.numel()];
        int[] idx = new int[shape.length];
        for (int i = 0; i < out.length; i++) {
            long s = v.offset();
            for (int d = 0; d < shape.length; d++) s += (long) idx[d] * stride[d];
            out[i] = s;
            for (int d = shape.length - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
        }
        return out;
    }

    @Test void randomViewChains() {
        Random r = new Random(20240611);
        for (int trial = 0; trial < TRIALS; trial++) {
            Chain c = randomChain(r);
            try (Scope scope = Scope.open()) {
                check(c);
            } catch (AssertionError e) {
                throw new AssertionError("view chain " + c.text() + ": " + e.getMessage(), e);
            }
        }
    }

    private static void check(Chain c) {
        int n = (int) Shape.numel(c.baseShape());
        for (DType dt : new DType[] {DType.FLOAT64, DType.FLOAT32, DType.FLOAT16, DType.INT64}) {
            Tensor base = Tensor.arange(0, n, 1, dt).reshape(c.baseShape());     // value == storage index (n <= 625)
            Tensor v = c.apply(base);
            double[] want = storageIndices(v);
            assertClose(want, v, Tol.EXACT);
            assertClose(want, v.contiguous(), Tol.EXACT);
            double[] plus = Arrays.stream(want).map(x -> 2 * x + 1).toArray();
            assertClose(plus, v.mul(2).add(1), Tol.EXACT);
            assertClose(plus, v.add(v).add(Tensor.ones(dt, v.shape())), Tol.EXACT);
            if (dt == DType.FLOAT16) continue;                  // sums beyond 2048 round in float16
            for (int d = 0; d < v.dim(); d++) {
                Tensor s = v.sum(d, false);
                Tensor ref = Tensor.of(want, v.shape()).sum(d, false);
                assertClose(ref.toDoubleArray(), s, Tol.EXACT);
                if (v.size(d) > 0 && dt != DType.INT64) assertClose(Tensor.of(want, v.shape()).max(d, false).toDoubleArray(), v.max(d, false), Tol.EXACT);
            }
            if (dt == DType.INT64) {
                v.fill_(-1);                                     // writes land exactly on the elements the view reaches
                long[] after = base.contiguous().toLongArray();
                boolean[] reached = new boolean[n];
                for (double w : want) reached[(int) w] = true;
                for (int i = 0; i < n; i++) assertEquals(reached[i] ? -1 : i, after[i], "storage index " + i);
                assertLongs(v, Arrays.stream(want).mapToLong(x -> -1).toArray());
            }
        }
    }
}
