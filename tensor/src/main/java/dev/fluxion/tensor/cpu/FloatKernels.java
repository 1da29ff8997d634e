package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.UnaryOp;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import static dev.fluxion.tensor.cpu.SpecialFunctions.INV_SQRT_2PI;
import static dev.fluxion.tensor.cpu.SpecialFunctions.SQRT_2_OVER_PI;

/**
 * Elementwise kernels over float lanes (float32, float16, bfloat16, int8, uint8, bool), on flat arrays
 * of one chunk. The Vector API handles the body; a scalar loop the tail and the functions it lacks.
 */
final class FloatKernels {
    private FloatKernels() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** y = op(x). */
    static void unary(UnaryOp op, float[] x, float[] y, int n) {
        int bound = S.loopBound(n), i = 0;
        Body body = BODIES[op.ordinal()];
        if (body != null) {
            body.run(x, y, bound);
            i = bound;
        }
        for (; i < n; i++) y[i] = scalar(op, x[i]);
    }

    /** A vector loop over [0, bound). */
    private interface Body { void run(float[] x, float[] y, int bound); }

    /**
     * The vector loops, called through this table on purpose: the call site sees many targets, so C2 compiles
     * each body on its own with VectorMath inlined into it. Inlined into one big caller instead, a body could
     * run out of inlining budget before VectorMath and box every vector (seen: 2.5x slower softmax).
     */
    private static final Body[] BODIES = new Body[UnaryOp.values().length];

    static {
        BODIES[UnaryOp.NEG.ordinal()] = FloatKernels::negBody;
        BODIES[UnaryOp.ABS.ordinal()] = FloatKernels::absBody;
        BODIES[UnaryOp.SQRT.ordinal()] = FloatKernels::sqrtBody;
        BODIES[UnaryOp.EXP.ordinal()] = FloatKernels::expBody;
        BODIES[UnaryOp.LOG.ordinal()] = FloatKernels::logBody;
        BODIES[UnaryOp.TANH.ordinal()] = FloatKernels::tanhBody;
        BODIES[UnaryOp.RELU.ordinal()] = FloatKernels::reluBody;
        BODIES[UnaryOp.RSQRT.ordinal()] = FloatKernels::rsqrtBody;
        BODIES[UnaryOp.GELU.ordinal()] = FloatKernels::geluBody;
        BODIES[UnaryOp.SIGMOID.ordinal()] = FloatKernels::sigmoidBody;
        BODIES[UnaryOp.SILU.ordinal()] = FloatKernels::siluBody;
        BODIES[UnaryOp.GELU_TANH.ordinal()] = FloatKernels::gelutanhBody;
        BODIES[UnaryOp.GELU_GRAD.ordinal()] = FloatKernels::gelugradBody;
        BODIES[UnaryOp.GELU_TANH_GRAD.ordinal()] = FloatKernels::gelutanhgradBody;
        BODIES[UnaryOp.SILU_GRAD.ordinal()] = FloatKernels::silugradBody;
    }

    private static void negBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) FloatVector.fromArray(S, x, i).neg().intoArray(y, i);
    }

    private static void absBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) FloatVector.fromArray(S, x, i).abs().intoArray(y, i);
    }

    private static void sqrtBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) FloatVector.fromArray(S, x, i).sqrt().intoArray(y, i);
    }

    private static void expBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) VectorMath.exp(FloatVector.fromArray(S, x, i)).intoArray(y, i);
    }

    private static void logBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) VectorMath.log(FloatVector.fromArray(S, x, i)).intoArray(y, i);
    }

    private static void tanhBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) VectorMath.tanh(FloatVector.fromArray(S, x, i)).intoArray(y, i);
    }

    private static void reluBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) FloatVector.fromArray(S, x, i).max(0f).intoArray(y, i);
    }

    private static void rsqrtBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) FloatVector.broadcast(S, 1f).div(FloatVector.fromArray(S, x, i).sqrt()).intoArray(y, i);
    }

    private static void geluBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) { FloatVector v = FloatVector.fromArray(S, x, i); v.mul(normalCdf(v)).intoArray(y, i); }
    }

    private static void sigmoidBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i);
            FloatVector.broadcast(S, 1f).div(VectorMath.exp(v.neg()).add(1f)).intoArray(y, i); // 1/(1+e^-x)
        }
    }

    private static void gelugradBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i);
            FloatVector pdf = VectorMath.exp(v.mul(v).mul(-0.5f)).mul((float) INV_SQRT_2PI);
            normalCdf(v).add(v.mul(pdf)).intoArray(y, i);
        }
    }

    private static void siluBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i);
            v.div(VectorMath.exp(v.neg()).add(1f)).intoArray(y, i);
        }
    }

    /** 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): one exp, so C2 inlines the whole body. */
    private static void gelutanhBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i);
            FloatVector twoU = v.mul(v).mul(0.044715f).add(1f).mul(v).mul((float) (2 * SQRT_2_OVER_PI));
            v.div(VectorMath.exp(twoU.neg()).add(1f)).intoArray(y, i);
        }
    }

    /** d/dx GELU_TANH = s + 2 x s (1 - s) u', s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2) (tanh u = 2s - 1). */
    private static void gelutanhgradBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i);
            FloatVector v2 = v.mul(v);
            FloatVector twoU = v2.mul(0.044715f).add(1f).mul(v).mul((float) (2 * SQRT_2_OVER_PI));
            FloatVector sg = FloatVector.broadcast(S, 1f).div(VectorMath.exp(twoU.neg()).add(1f));
            FloatVector du = v2.mul(3 * 0.044715f).add(1f).mul((float) SQRT_2_OVER_PI);
            sg.add(v.mul(2f).mul(sg).mul(FloatVector.broadcast(S, 1f).sub(sg)).mul(du)).intoArray(y, i);
        }
    }

    private static void silugradBody(float[] x, float[] y, int bound) {
        for (int i = 0; i < bound; i += S.length()) {       // s (1 + x (1 - s))
            FloatVector v = FloatVector.fromArray(S, x, i);
            FloatVector sg = FloatVector.broadcast(S, 1f).div(VectorMath.exp(v.neg()).add(1f));
            sg.mul(v.mul(FloatVector.broadcast(S, 1f).sub(sg)).add(1f)).intoArray(y, i);
        }
    }


    /** Phi(x) = erfc(-x/sqrt2)/2 with the erfc of {@link SpecialFunctions#normalCdf(float)}, lane by lane. */
    private static FloatVector normalCdf(FloatVector x) {
        FloatVector z = x.abs().mul((float) SpecialFunctions.INV_SQRT2);
        FloatVector t = FloatVector.broadcast(S, 1f).div(z.mul(0.5f).add(1f));
        FloatVector poly = t.mul(0.17087277f).add(-0.82215223f).mul(t).add(1.48851587f).mul(t).add(-1.13520398f).mul(t)
                .add(0.27886807f).mul(t).add(-0.18628806f).mul(t).add(0.09678418f).mul(t).add(0.37409196f).mul(t)
                .add(1.00002368f).mul(t).add(-1.26551223f);
        FloatVector r = t.mul(VectorMath.exp(z.mul(z).neg().add(poly)));   // erfc(|x|/sqrt2)
        FloatVector half = r.mul(0.5f);
        return FloatVector.broadcast(S, 1f).sub(half).blend(half, x.compare(VectorOperators.LT, 0f));
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
        int i = 0, bound = S.loopBound(n);
        switch (op) {
            case ADD -> { for (; i < bound; i += S.length()) FloatVector.fromArray(S, a, i).add(FloatVector.fromArray(S, b, i)).intoArray(y, i); }
            case SUB -> { for (; i < bound; i += S.length()) FloatVector.fromArray(S, a, i).sub(FloatVector.fromArray(S, b, i)).intoArray(y, i); }
            case MUL -> { for (; i < bound; i += S.length()) FloatVector.fromArray(S, a, i).mul(FloatVector.fromArray(S, b, i)).intoArray(y, i); }
            case DIV -> { for (; i < bound; i += S.length()) FloatVector.fromArray(S, a, i).div(FloatVector.fromArray(S, b, i)).intoArray(y, i); }
            case GT, LT, GE, LE, EQ, NE -> {
                VectorOperators.Comparison c = switch (op) {
                    case GT -> VectorOperators.GT; case LT -> VectorOperators.LT; case GE -> VectorOperators.GE;
                    case LE -> VectorOperators.LE; case EQ -> VectorOperators.EQ; default -> VectorOperators.NE;
                };
                FloatVector zero = FloatVector.zero(S);
                for (; i < bound; i += S.length()) {
                    VectorMask<Float> m = FloatVector.fromArray(S, a, i).compare(c, FloatVector.fromArray(S, b, i));
                    zero.blend(1f, m).intoArray(y, i);
                }
            }
            default -> { }
        }
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

    /** Sum of x[0..n) with a vector accumulator, widened to double per chunk to keep long sums accurate. */
    static double sum(float[] x, int n) {
        int i = 0, bound = S.loopBound(n);
        FloatVector acc = FloatVector.zero(S);
        for (; i < bound; i += S.length()) acc = acc.add(FloatVector.fromArray(S, x, i));
        double s = VectorMath.sumLanes(acc, Scratch.get().lanes);
        for (; i < n; i++) s += x[i];
        return s;
    }

    static float max(float[] x, int n) {
        int i = 0, bound = S.loopBound(n);
        float m = Float.NEGATIVE_INFINITY;
        if (bound > 0) {
            FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (; i < bound; i += S.length()) acc = acc.max(FloatVector.fromArray(S, x, i));
            m = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) m = Math.max(m, x[i]);
        return m;
    }

    /** y[i] = cond[i] != 0 ? a[i] : b[i]. */
    static void select(float[] cond, float[] a, float[] b, float[] y, int n) {
        int i = 0, bound = S.loopBound(n);
        for (; i < bound; i += S.length()) {
            VectorMask<Float> take = FloatVector.fromArray(S, cond, i).compare(VectorOperators.NE, 0f);
            FloatVector.fromArray(S, b, i).blend(FloatVector.fromArray(S, a, i), take).intoArray(y, i);
        }
        for (; i < n; i++) y[i] = cond[i] != 0 ? a[i] : b[i];
    }

    /** y[i] += x[i]. */
    static void accumulate(float[] x, float[] y, int n) {
        int i = 0, bound = S.loopBound(n);
        for (; i < bound; i += S.length()) FloatVector.fromArray(S, y, i).add(FloatVector.fromArray(S, x, i)).intoArray(y, i);
        for (; i < n; i++) y[i] += x[i];
    }
}
