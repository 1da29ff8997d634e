package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.UnaryOp;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The C kernels give the Java kernels' bits, element for element (NaN payloads aside), on special values
 * (NaN, infinities, signed zeros, denormals, the ends of exp's range, tanh's 0.625 switch), on random values
 * over many scales, and on every length around the vector widths, so no vector-body or tail difference hides.
 * The Java references are the scalar loops that run without the library ({@link FloatKernels#lane} and friends).
 */
class NativeKernelsTest {
    @BeforeAll static void libraryLoaded() {
        String arch = System.getProperty("os.arch");
        if (System.getProperty("os.name").equals("Linux") && (arch.equals("amd64") || arch.equals("x86_64")))
            assertTrue(NativeKernels.ENABLED, "libfluxion_cpu.so must load on linux-x86_64 (the build puts it in the jar)");
        org.junit.jupiter.api.Assumptions.assumeTrue(NativeKernels.ENABLED, "no native CPU kernels on this platform");
    }

    private static float[] inputs(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        float[] specials = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 100f, -100f, 1e-40f,
                -1e-40f, 88.8f, -88f, 88.7228394f, -87.3365479f, 0.6249f, 0.625f, -0.625f, 20f, -9f, Float.MIN_VALUE,
                Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_NORMAL, 1f, -1f};
        for (int i = 0; i < n; i++) {
            if (i < specials.length) x[i] = specials[i];
            else if (i % 3 == 0) x[i] = (float) r.nextGaussian() * 4;
            else if (i % 3 == 1) x[i] = (float) Math.exp(r.nextGaussian() * 10) * (r.nextBoolean() ? 1 : -1);
            else x[i] = (r.nextFloat() - 0.5f) * 200;
        }
        return x;
    }

    private static void assertSameBits(float expected, float actual, String what) {
        if (Float.floatToIntBits(expected) != Float.floatToIntBits(actual))
            throw new AssertionError(what + ": Java gives " + expected + " (0x" + Integer.toHexString(Float.floatToRawIntBits(expected))
                    + "), C gives " + actual + " (0x" + Integer.toHexString(Float.floatToRawIntBits(actual)) + ")");
    }

    @Test void everyUnaryOpMatchesTheJavaLane() {
        int n = 1 << 15;
        float[] x = inputs(n, 7), y = new float[n];
        for (UnaryOp op : UnaryOp.values()) {
            int code = NativeKernels.code(op);
            if (code < 0) continue;
            assertEquals(n, NativeKernels.unary(code, x, y, n), op + " must run natively");
            for (int i = 0; i < n; i++) assertSameBits(FloatKernels.lane(op, x[i]), y[i], op + "(" + x[i] + ")");
            float[] inPlace = x.clone();                                     // softmax calls exp in place
            NativeKernels.unary(code, inPlace, inPlace, n);
            for (int i = 0; i < n; i++) assertSameBits(y[i], inPlace[i], op + " in place at " + i);
        }
    }

    @Test void everyBinaryOpMatchesTheJavaScalar() {
        int n = 4099;
        float[] a = inputs(n, 1), b = inputs(n, 2), y = new float[n];
        for (int i = 0; i < n; i += 5) b[i] = a[i];                          // equal pairs for the comparisons
        for (BinaryOp op : BinaryOp.values()) {
            int code = NativeKernels.code(op);
            if (code < 0) continue;
            assertEquals(n, NativeKernels.binary(code, a, b, y, n), op + " must run natively");
            for (int i = 0; i < n; i++) assertSameBits(FloatKernels.scalar(op, a[i], b[i]), y[i], op + "(" + a[i] + ", " + b[i] + ")");
        }
    }

    @Test void reductionsMatchAtEveryLength() {
        Random r = new Random(3);
        for (int len = 0; len <= 70; len++) check(len, r);
        for (int len : new int[] {127, 128, 129, 999, 2048}) check(len, r);
    }

    private static void check(int len, Random r) {
        float[] x = new float[len], z = new float[len];
        for (int i = 0; i < len; i++) { x[i] = (float) r.nextGaussian() * (i % 7 == 0 ? 1e4f : 1f); z[i] = (float) r.nextGaussian(); }
        assertEquals(FloatKernels.scalarSum(x, len, new float[FloatKernels.SUM_LANES]), NativeKernels.sum(x, len), 0.0, "sum of " + len);
        assertSameBits(FloatKernels.scalarMax(x, len), NativeKernels.max(x, len), "max of " + len);
        assertEquals(javaDot(x, z, len), NativeKernels.dot(x, z, len), 0.0, "dot of " + len);
    }

    /** FloatKernels.dot's scalar loop. */
    private static double javaDot(float[] a, float[] b, int n) {
        float[] acc = new float[FloatKernels.SUM_LANES];
        int i = 0, bound = n - n % FloatKernels.SUM_LANES;
        for (; i < bound; i += FloatKernels.SUM_LANES) for (int j = 0; j < FloatKernels.SUM_LANES; j++) acc[j] = Math.fma(a[i + j], b[i + j], acc[j]);
        double s = 0;
        for (float v : acc) s += v;
        for (; i < n; i++) s += (double) a[i] * b[i];
        return s;
    }

    /** The fused row softmax against the Java steps it replaces (max, subtract, exp, sum, scale), every length to 70. */
    @Test void softmaxRowsMatchTheJavaSteps() {
        Random r = new Random(21);
        for (int n = 1; n <= 70; n++) for (boolean log : new boolean[] {false, true}) {
            float[] row = new float[n];
            for (int i = 0; i < n; i++) row[i] = (float) r.nextGaussian() * 5;
            if (n % 7 == 0) row[0] = Float.NEGATIVE_INFINITY;               // a masked position
            if (n % 5 == 0) row[1 % n] = 150f;                              // the others fall below exp's range
            if (n % 11 == 0) row[n / 2] = Float.POSITIVE_INFINITY;          // inf - inf is NaN: the general exp
            if (n % 13 == 0) row[n - 1] = Float.NaN;
            if (n % 17 == 0) java.util.Arrays.fill(row, Float.NEGATIVE_INFINITY);   // every position masked
            float[] want = row.clone(), got = row.clone();
            float max = FloatKernels.scalarMax(want, n);
            if (max == Float.NEGATIVE_INFINITY) max = 0;
            for (int i = 0; i < n; i++) want[i] -= max;
            float[] e = new float[n];
            for (int i = 0; i < n; i++) e[i] = FloatKernels.lane(UnaryOp.EXP, want[i]);
            double sum = FloatKernels.scalarSum(e, n, new float[FloatKernels.SUM_LANES]);
            if (log) { float lse = (float) Math.log(sum); for (int i = 0; i < n; i++) want[i] -= lse; }
            else { float inv = (float) (1 / sum); for (int i = 0; i < n; i++) want[i] = e[i] * inv; }
            FloatBuffer rowsIn = direct(row, 1), rowsOut = direct(new float[n], 2);      // the buffer-to-buffer path, odd offsets
            NativeKernels.softmaxRowsAt(rowsIn, 1, rowsOut, 2, 1, n);
            double nativeSum = NativeKernels.softmaxRow(got, n, log, log ? new float[n] : null);
            if (!log) for (int i = 0; i < n; i++) assertSameBits(got[i], rowsOut.get(2 + i), "softmaxRowsAt n=" + n + " at " + i);
            assertEquals(sum, nativeSum, 0.0, "sum of the exps, n=" + n);
            if (log) { float lse = (float) Math.log(nativeSum); for (int i = 0; i < n; i++) got[i] -= lse; }   // as logSoftmaxRow does
            for (int i = 0; i < n; i++) assertSameBits(want[i], got[i], (log ? "log_softmax" : "softmax") + " n=" + n + " at " + i);
        }
    }

    @Test void maxFollowsJavaOnNaNAndSignedZeros() {
        float[][] cases = {{-0f, 0f}, {0f, -0f}, {-0f, -0f}, {-1f, Float.NaN, 3f}, {Float.NEGATIVE_INFINITY}, {}};
        for (float[] c : cases) {
            float[] x = new float[40];                                       // past the 16 lanes, the case at the end
            java.util.Arrays.fill(x, -5f);
            System.arraycopy(c, 0, x, 40 - c.length, c.length);
            if (c.length == 1 && c[0] == Float.NEGATIVE_INFINITY) java.util.Arrays.fill(x, Float.NEGATIVE_INFINITY);
            assertSameBits(FloatKernels.scalarMax(x, 40), NativeKernels.max(x, 40), "max of " + java.util.Arrays.toString(c));
        }
    }

    @Test void selectAndAccumulateMatch() {
        int n = 333;
        float[] c = inputs(n, 11), p = inputs(n, 12), q = inputs(n, 13), y = new float[n];
        NativeKernels.select(c, p, q, y, n);
        for (int i = 0; i < n; i++) assertSameBits(c[i] != 0 ? p[i] : q[i], y[i], "select at " + i);
        float[] acc = q.clone();
        NativeKernels.accumulate(p, acc, n);
        for (int i = 0; i < n; i++) assertSameBits(q[i] + p[i], acc[i], "accumulate at " + i);
    }

    @Test void adamMatchesTheJavaLoopInPlace() {
        int n = 1000, off = 3;
        Random r = new Random(17);
        float[] p = new float[n], g = new float[n], m = new float[n], v = new float[n], x = new float[n];
        for (int i = 0; i < n; i++) {
            p[i] = (float) r.nextGaussian(); g[i] = (float) r.nextGaussian() * 0.1f; m[i] = (float) r.nextGaussian() * 0.01f;
            v[i] = (float) Math.abs(r.nextGaussian()) * 1e-4f; x[i] = i % 2 == 0 ? v[i] * 2 : 0f;
        }
        for (boolean amsgrad : new boolean[] {false, true}) for (boolean l2 : new boolean[] {false, true}) for (boolean dec : new boolean[] {false, true}) {
            float b1 = 0.9f, omb1 = 0.1f, b2 = 0.999f, omb2 = 1 - 0.999f, eps = 1e-8f, wd = 0.01f, decay = 0.999f, negStep = -1e-3f, bc2 = 0.3f;
            FloatBuffer pb = direct(p, off), gb = direct(g, off), mb = direct(m, off), vb = direct(v, off), xb = amsgrad ? direct(x, off) : null;
            NativeKernels.adam(pb, off, gb, off, mb, off, vb, off, xb, off, n, b1, omb1, b2, omb2, eps, wd, decay, l2, dec, negStep, bc2);
            for (int i = 0; i < n; i++) {                                    // CpuAdam's scalar tail
                float pv = p[i], gv = l2 ? g[i] + pv * wd : g[i];
                float base = dec ? pv * decay : pv;
                float mv = m[i] * b1 + gv * omb1, vv = v[i] * b2 + gv * omb2 * gv;
                float sel = vv;
                if (amsgrad) sel = Math.max(x[i], vv);
                float denom = (float) Math.sqrt(sel) / bc2 + eps;
                String at = " at " + i + " (amsgrad " + amsgrad + ", l2 " + l2 + ", decoupled " + dec + ")";
                assertSameBits(base + mv * negStep / denom, pb.get(off + i), "param" + at);
                assertSameBits(mv, mb.get(off + i), "exp_avg" + at);
                assertSameBits(vv, vb.get(off + i), "exp_avg_sq" + at);
                if (amsgrad) assertSameBits(sel, xb.get(off + i), "max_exp_avg_sq" + at);
            }
            assertEquals(0f, pb.get(0), "elements before the offset untouched");
        }
    }

    @Test void sgdMatchesTheJavaLoopInPlace() {
        int n = 777, off = 5;
        Random r = new Random(19);
        float[] p = new float[n], g = new float[n], m = new float[n];
        for (int i = 0; i < n; i++) { p[i] = (float) r.nextGaussian(); g[i] = (float) r.nextGaussian(); m[i] = (float) r.nextGaussian(); }
        float wd = 0.01f, mom = 0.9f, omd = 0.75f, negLr = -0.1f;
        for (int flags = 0; flags < 32; flags++) {
            boolean decay = (flags & 1) != 0, damp = (flags & 2) != 0, first = (flags & 4) != 0, nesterov = (flags & 8) != 0, momentum = (flags & 16) != 0;
            FloatBuffer pb = direct(p, off), gb = direct(g, off), mb = momentum ? direct(m, off) : null;
            NativeKernels.sgd(pb, off, gb, off, mb, off, n, wd, mom, omd, negLr, decay, damp, first, nesterov);
            for (int i = 0; i < n; i++) {                                    // CpuSgd's Java loop
                float d = decay ? g[i] + p[i] * wd : g[i], next = 0;
                if (momentum) {
                    next = first ? d : m[i] * mom + (damp ? d * omd : d);
                    d = nesterov ? d + next * mom : next;
                }
                String at = " at " + i + " (flags " + flags + ")";
                assertSameBits(p[i] + d * negLr, pb.get(off + i), "param" + at);
                if (momentum) assertSameBits(next, mb.get(off + i), "momentum" + at);
            }
        }
    }

    /** The whole-range entry points (direct buffers, offsets, blocks of 2048 and a tail) give the chunk kernels' bits. */
    @Test void rangesOfDirectBuffersMatchTheArrayKernels() {
        int n = 2048 * 3 + 77, off = 9;
        float[] x = inputs(n, 31), g = inputs(n, 32), want = new float[n];
        FloatBuffer xb = direct(x, off), gb = direct(g, off), yb = direct(new float[n], off);
        for (UnaryOp op : UnaryOp.values()) {
            int code = NativeKernels.code(op);
            if (code < 0) continue;
            assertEquals(n, NativeKernels.unaryAt(code, xb, off, yb, off, n), op.name());
            for (int i = 0; i < n; i++) assertSameBits(FloatKernels.lane(op, x[i]), yb.get(off + i), op + " at " + i);
        }
        for (BinaryOp op : new BinaryOp[] {BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV}) {
            assertEquals(n, NativeKernels.binaryAt(NativeKernels.code(op), xb, off, gb, off, yb, off, n), op.name());
            for (int i = 0; i < n; i++) assertSameBits(FloatKernels.scalar(op, x[i], g[i]), yb.get(off + i), op + " at " + i);
        }
        for (UnaryOp d : new UnaryOp[] {UnaryOp.GELU_GRAD, UnaryOp.GELU_TANH_GRAD, UnaryOp.SILU_GRAD}) {
            NativeKernels.gradTimesDerivativeAt(NativeKernels.code(d), gb, off, xb, off, yb, off, n);
            for (int i = 0; i < n; i++) assertSameBits(g[i] * FloatKernels.lane(d, x[i]), yb.get(off + i), d + " times grad at " + i);
        }
        NativeKernels.reluBackwardAt(gb, off, xb, off, yb, off, n);
        for (int i = 0; i < n; i++) assertSameBits(x[i] <= 0 ? 0f : g[i], yb.get(off + i), "relu backward at " + i);
    }

    /** The attention row kernels against CpuAttention's Java row steps, causal and not, over a block that starts at row 70. */
    @Test void attentionRowsMatchTheJavaSteps() {
        int rows = 20, n = 90, s = 90, t0 = 70;
        float scale = 0.3f;
        Random r = new Random(41);
        for (boolean causal : new boolean[] {false, true}) {
            float[] scores = new float[rows * n];
            for (int i = 0; i < scores.length; i++) scores[i] = (float) r.nextGaussian() * 3;
            scores[4 * n] = 200f;                  // row 4's other scores fall below exp's range once the max is subtracted
            FloatBuffer sb = direct(scores, 0);
            float[] maxes = new float[rows];
            double[] sums = new double[rows];
            NativeKernels.attentionSoftmaxRows(sb, rows, n, t0, causal, s, maxes, sums);
            float[] lse = new float[rows];
            for (int i = 0; i < rows; i++) {
                int ni = causal ? Math.min(t0 + i + 1, s) : s;
                float[] row = java.util.Arrays.copyOfRange(scores, i * n, i * n + n);
                float max = FloatKernels.scalarMax(row, ni);
                for (int j = 0; j < ni; j++) row[j] -= max;
                for (int j = 0; j < ni; j++) row[j] = FloatKernels.lane(UnaryOp.EXP, row[j]);
                double sum = FloatKernels.scalarSum(row, ni, new float[FloatKernels.SUM_LANES]);
                float inv = (float) (1 / sum);
                for (int j = 0; j < ni; j++) row[j] *= inv;
                java.util.Arrays.fill(row, ni, n, 0f);
                assertSameBits(max, maxes[i], "row max " + i);
                assertEquals(sum, sums[i], 0.0, "row sum " + i);
                for (int j = 0; j < n; j++) assertSameBits(row[j], sb.get(i * n + j), "softmax causal=" + causal + " at " + i + ", " + j);
                lse[i] = max + (float) Math.log(sum);
            }
            FloatBuffer wb = direct(scores, 0), lb = direct(lse, 3);
            NativeKernels.attentionWeightRows(wb, rows, n, t0, causal, s, lb, 3);
            float[] dp = new float[rows * n];
            for (int i = 0; i < dp.length; i++) dp[i] = (float) r.nextGaussian();
            FloatBuffer db = direct(dp, 0);
            NativeKernels.attentionScoreGradRows(wb, db, rows, n, scale);
            for (int i = 0; i < rows; i++) {
                int ni = causal ? Math.min(t0 + i + 1, s) : s;
                float[] p = new float[n];
                for (int j = 0; j < ni; j++) p[j] = FloatKernels.lane(UnaryOp.EXP, scores[i * n + j] - lse[i]);
                for (int j = 0; j < n; j++) assertSameBits(p[j], wb.get(i * n + j), "weights causal=" + causal + " at " + i + ", " + j);
                float[] d = java.util.Arrays.copyOfRange(dp, i * n, i * n + n);
                float pdp = (float) javaDot(p, d, n);
                for (int j = 0; j < n; j++) assertSameBits(p[j] * (d[j] - pdp) * scale, db.get(i * n + j), "dS causal=" + causal + " at " + i + ", " + j);
            }
        }
    }

    /** The 2x2 max-pool positions against CpuWindows' scalar rule: ties keep the first, a NaN wins, -0 and +0 as Java compares them. */
    @Test void maxPool2x2MatchesTheScalarRule() {
        Random r = new Random(5);
        float[] pool = {0f, -0f, 1f, -1f, 2f, Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY};
        for (int w : new int[] {2, 3, 8, 17}) {
            int n = 9 * w + 13;
            float[] x = new float[n + w + 1];
            for (int i = 0; i < x.length; i++) x[i] = i % 3 == 0 ? pool[r.nextInt(pool.length)] : (float) r.nextInt(4);
            float[] m = new float[n], which = new float[n], wantM = new float[n], wantWhich = new float[n];
            int stop = NativeKernels.max2x2(x, w, m, which, n);
            assertEquals(n - n % 8, stop, "positions done in C");
            for (int q = 0; q < n; q++) CpuWindows.max2x2At(x, w, wantM, wantWhich, q);
            for (int q = 0; q < stop; q++) {
                assertSameBits(wantM[q], m[q], "max w=" + w + " at " + q);
                assertEquals(wantWhich[q], which[q], "place w=" + w + " at " + q);
            }
        }
    }

    private static FloatBuffer direct(float[] values, int offset) {
        FloatBuffer b = ByteBuffer.allocateDirect((values.length + offset) * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        b.put(offset, values, 0, values.length);
        return b;
    }
}
