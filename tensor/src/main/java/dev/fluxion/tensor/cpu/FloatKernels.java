package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.UnaryOp;

import static dev.fluxion.tensor.cpu.SpecialFunctions.INV_SQRT_2PI;
import static dev.fluxion.tensor.cpu.SpecialFunctions.SQRT_2_OVER_PI;

/**
 * Elementwise kernels over float lanes (float32, float16, bfloat16, int8, uint8, bool), on flat arrays
 * of one chunk. The C kernels ({@link NativeKernels}) run them where the library loaded; else, with the Vector API
 * ({@link Simd#ENABLED}), {@link VectorKernels} runs the body and a scalar loop the tail; else the scalar loop
 * runs everything. The scalar loop computes each element exactly
 * as a vector lane does ({@link #lane}), so both give the same bits, whatever the machine's vector width.
 */
final class FloatKernels {
    private FloatKernels() {}

    /** The accumulators of {@link #sum}: fixed, so a sum's rounding does not depend on the vector width. */
    static final int SUM_LANES = 16;

    /** y = op(x). */
    static void unary(UnaryOp op, float[] x, float[] y, int n) {
        int i = NativeKernels.ENABLED ? NativeKernels.unary(NativeKernels.code(op), x, y, n) : Simd.ENABLED ? VectorKernels.unary(op, x, y, n) : 0;
        for (; i < n; i++) y[i] = lane(op, x[i]);
    }

    /**
     * op(v) as one lane of the vector body computes it (float ops in the same order, {@link ScalarMath} for
     * exp, log and tanh); the ops without a vector body keep their double-precision scalar.
     */
    static float lane(UnaryOp op, float v) {
        return switch (op) {
            case NEG -> -v;
            case ABS -> Math.abs(v);
            case SQRT -> (float) Math.sqrt(v);                     // float sqrt is correctly rounded either way
            case EXP -> ScalarMath.exp(v);
            case LOG -> ScalarMath.log(v);
            case TANH -> ScalarMath.tanh(v);
            case RELU -> Math.max(v, 0f);
            case RSQRT -> 1f / (float) Math.sqrt(v);
            case GELU -> v * ScalarMath.normalCdf(v);
            case SIGMOID -> 1f / (ScalarMath.exp(-v) + 1f);
            case SILU -> v / (ScalarMath.exp(-v) + 1f);
            case GELU_TANH -> {
                float twoU = (v * v * 0.044715f + 1f) * v * (float) (2 * SQRT_2_OVER_PI);
                yield v / (ScalarMath.exp(-twoU) + 1f);
            }
            case GELU_GRAD -> ScalarMath.normalCdf(v) + v * (ScalarMath.exp(v * v * -0.5f) * (float) INV_SQRT_2PI);
            case GELU_TANH_GRAD -> {
                float v2 = v * v;
                float twoU = (v2 * 0.044715f + 1f) * v * (float) (2 * SQRT_2_OVER_PI);
                float sg = 1f / (ScalarMath.exp(-twoU) + 1f);
                float du = (v2 * (3 * 0.044715f) + 1f) * (float) SQRT_2_OVER_PI;
                yield sg + v * 2f * sg * (1f - sg) * du;
            }
            case SILU_GRAD -> {
                float sg = 1f / (ScalarMath.exp(-v) + 1f);
                yield sg * (v * (1f - sg) + 1f);
            }
            default -> scalar(op, v);
        };
    }

    static float scalar(UnaryOp op, float v) {
        return switch (op) {
            case NEG -> -v;
            case EXP -> (float) Math.exp(v);
            case LOG -> (float) Math.log(v);
            case SQRT -> (float) Math.sqrt(v);
            case RSQRT -> (float) (1 / Math.sqrt(v));
            case ABS -> Math.abs(v);
            case SIGN -> Math.signum(v);
            case SIN -> (float) Math.sin(v);
            case COS -> (float) Math.cos(v);
            case TANH -> (float) Math.tanh(v);
            case SIGMOID -> (float) (1 / (1 + Math.exp(-v)));
            case RELU -> v > 0 ? v : (v == v ? 0f : v);
            case GELU -> v * SpecialFunctions.normalCdf(v);
            case GELU_TANH -> (float) (0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))));
            case SILU -> (float) (v / (1 + Math.exp(-v)));
            case GELU_GRAD -> SpecialFunctions.normalCdf(v) + (float) (v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
            case GELU_TANH_GRAD -> (float) DoubleKernels.scalar(UnaryOp.GELU_TANH_GRAD, v);
            case SILU_GRAD -> (float) DoubleKernels.scalar(UnaryOp.SILU_GRAD, v);
        };
    }

    static void binary(BinaryOp op, float[] a, float[] b, float[] y, int n) {
        int i = NativeKernels.ENABLED ? NativeKernels.binary(NativeKernels.code(op), a, b, y, n) : Simd.ENABLED ? VectorKernels.binary(op, a, b, y, n) : 0;
        for (; i < n; i++) y[i] = scalar(op, a[i], b[i]);
    }

    static float scalar(BinaryOp op, float a, float b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> (float) Math.pow(a, b);
            case MAXIMUM -> a != a || b != b ? Float.NaN : Math.max(a, b);
            case MINIMUM -> a != a || b != b ? Float.NaN : Math.min(a, b);
            case EQ -> a == b ? 1f : 0f;
            case NE -> a != b ? 1f : 0f;
            case LT -> a < b ? 1f : 0f;
            case LE -> a <= b ? 1f : 0f;
            case GT -> a > b ? 1f : 0f;
            case GE -> a >= b ? 1f : 0f;
        };
    }

    /**
     * Sum of x[0..n): {@link #SUM_LANES} float accumulators, element i into accumulator i % SUM_LANES, added in
     * order in double (one chunk's float sums stay short, the total is kept in double), then the tail in double.
     */
    static double sum(float[] x, int n) {
        if (NativeKernels.ENABLED) return NativeKernels.sum(x, n);
        float[] acc = Scratch.get().lanes;
        return Simd.ENABLED ? VectorKernels.sum(x, n, acc) : scalarSum(x, n, acc);
    }

    /** {@link #sum} without the Vector API (acc: SUM_LANES floats of scratch). */
    static double scalarSum(float[] x, int n, float[] acc) {
        java.util.Arrays.fill(acc, 0f);
        int i = 0, bound = n - n % SUM_LANES;
        for (; i < bound; i += SUM_LANES) for (int j = 0; j < SUM_LANES; j++) acc[j] += x[i + j];
        double s = 0;
        for (int j = 0; j < SUM_LANES; j++) s += acc[j];
        for (; i < n; i++) s += x[i];
        return s;
    }

    static float max(float[] x, int n) {
        return NativeKernels.ENABLED ? NativeKernels.max(x, n) : Simd.ENABLED ? VectorKernels.max(x, n) : scalarMax(x, n);
    }

    static float scalarMax(float[] x, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) m = Math.max(m, x[i]);
        return m;
    }

    /** y[i] = cond[i] != 0 ? a[i] : b[i]. */
    static void select(float[] cond, float[] a, float[] b, float[] y, int n) {
        if (NativeKernels.ENABLED) { NativeKernels.select(cond, a, b, y, n); return; }
        int i = Simd.ENABLED ? VectorKernels.select(cond, a, b, y, n) : 0;
        for (; i < n; i++) y[i] = cond[i] != 0 ? a[i] : b[i];
    }

    /** y[i] += x[i]. */
    static void accumulate(float[] x, float[] y, int n) {
        if (NativeKernels.ENABLED) { NativeKernels.accumulate(x, y, n); return; }
        int i = Simd.ENABLED ? VectorKernels.accumulate(x, y, n) : 0;
        for (; i < n; i++) y[i] += x[i];
    }

    /** v[0..n) = softmax(v[0..n)): minus the row max (0 when all are -inf), exp, times 1/sum. */
    static void softmaxRow(float[] v, int n) {
        if (NativeKernels.ENABLED) { NativeKernels.softmaxRow(v, n, false, null); return; }
        float max = max(v, n);
        if (max == Float.NEGATIVE_INFINITY) max = 0;
        for (int i = 0; i < n; i++) v[i] -= max;
        unary(UnaryOp.EXP, v, v, n);
        float inv = (float) (1 / sum(v, n));
        for (int i = 0; i < n; i++) v[i] *= inv;
    }

    /** v[0..n) = log_softmax(v[0..n)); tmp: n floats of scratch. */
    static void logSoftmaxRow(float[] v, int n, float[] tmp) {
        double sum;
        if (NativeKernels.ENABLED) sum = NativeKernels.softmaxRow(v, n, true, tmp);
        else {
            float max = max(v, n);
            if (max == Float.NEGATIVE_INFINITY) max = 0;
            for (int i = 0; i < n; i++) v[i] -= max;
            unary(UnaryOp.EXP, v, tmp, n);
            sum = sum(tmp, n);
        }
        float lse = (float) Math.log(sum);
        for (int i = 0; i < n; i++) v[i] -= lse;
    }

    /** Sum of a[i] * b[i] over [0, n), accumulated as {@link #sum} (SUM_LANES float fma chains, added in double). */
    static double dot(float[] a, float[] b, int n) {
        if (NativeKernels.ENABLED) return NativeKernels.dot(a, b, n);
        float[] acc = Scratch.get().lanes;
        if (Simd.ENABLED) return VectorKernels.dot(a, b, n, acc);
        java.util.Arrays.fill(acc, 0f);
        int i = 0, bound = n - n % SUM_LANES;
        for (; i < bound; i += SUM_LANES) for (int j = 0; j < SUM_LANES; j++) acc[j] = Math.fma(a[i + j], b[i + j], acc[j]);
        double s = 0;
        for (int j = 0; j < SUM_LANES; j++) s += acc[j];
        for (; i < n; i++) s += (double) a[i] * b[i];
        return s;
    }
}
