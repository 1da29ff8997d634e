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
 * The Vector API bodies of {@link FloatKernels}; loaded only when {@link Simd#ENABLED}. Each lane computes
 * what {@link FloatKernels#lane(UnaryOp, float)} computes for one float, so the callers' scalar tails (and the
 * scalar path used without the Vector API) give the same bits.
 */
final class VectorKernels {
    private VectorKernels() {}

    /** The preferred species, unless it is wider than {@link FloatKernels#SUM_LANES} or does not divide it. */
    static final VectorSpecies<Float> S = FloatKernels.SUM_LANES % FloatVector.SPECIES_PREFERRED.length() == 0
            ? FloatVector.SPECIES_PREFERRED : FloatVector.SPECIES_128;
    private static final int L = S.length(), K = FloatKernels.SUM_LANES / L;

    /** y = op(x) over [0, bound); returns bound, or 0 when op has no vector body. */
    static int unary(UnaryOp op, float[] x, float[] y, int n) {
        Body body = BODIES[op.ordinal()];
        if (body == null) return 0;
        int bound = S.loopBound(n);
        body.run(x, y, bound);
        return bound;
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
        BODIES[UnaryOp.NEG.ordinal()] = VectorKernels::negBody;
        BODIES[UnaryOp.ABS.ordinal()] = VectorKernels::absBody;
        BODIES[UnaryOp.SQRT.ordinal()] = VectorKernels::sqrtBody;
        BODIES[UnaryOp.EXP.ordinal()] = VectorKernels::expBody;
        BODIES[UnaryOp.LOG.ordinal()] = VectorKernels::logBody;
        BODIES[UnaryOp.TANH.ordinal()] = VectorKernels::tanhBody;
        BODIES[UnaryOp.RELU.ordinal()] = VectorKernels::reluBody;
        BODIES[UnaryOp.RSQRT.ordinal()] = VectorKernels::rsqrtBody;
        BODIES[UnaryOp.GELU.ordinal()] = VectorKernels::geluBody;
        BODIES[UnaryOp.SIGMOID.ordinal()] = VectorKernels::sigmoidBody;
        BODIES[UnaryOp.SILU.ordinal()] = VectorKernels::siluBody;
        BODIES[UnaryOp.GELU_TANH.ordinal()] = VectorKernels::gelutanhBody;
        BODIES[UnaryOp.GELU_GRAD.ordinal()] = VectorKernels::gelugradBody;
        BODIES[UnaryOp.GELU_TANH_GRAD.ordinal()] = VectorKernels::gelutanhgradBody;
        BODIES[UnaryOp.SILU_GRAD.ordinal()] = VectorKernels::silugradBody;
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

    /**
     * Phi(x) + x phi(x) in two passes over blocks of {@link #BLOCK}: phi first, then Phi and the sum. In one
     * loop the body (two exps, a division) outgrew C2's inlining budget and boxed every vector (seen: 12
     * bytes allocated per element); each pass alone compiles to SIMD. Same operations, same bits.
     */
    private static void gelugradBody(float[] x, float[] y, int bound) {
        float[] pdf = PDF.get();
        for (int at = 0; at < bound; at += BLOCK) {
            int n = Math.min(BLOCK, bound - at);
            normalPdfBlock(x, at, pdf, n);
            gelugradBlock(x, at, pdf, y, n);
        }
    }

    private static final int BLOCK = 512;
    private static final ThreadLocal<float[]> PDF = ThreadLocal.withInitial(() -> new float[BLOCK]);

    private static void normalPdfBlock(float[] x, int at, float[] pdf, int n) {
        for (int i = 0; i < n; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, at + i);
            VectorMath.exp(v.mul(v).mul(-0.5f)).mul((float) INV_SQRT_2PI).intoArray(pdf, i);
        }
    }

    private static void gelugradBlock(float[] x, int at, float[] pdf, float[] y, int n) {
        for (int i = 0; i < n; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, at + i);
            normalCdf(v).add(v.mul(FloatVector.fromArray(S, pdf, i))).intoArray(y, at + i);
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

    /** y = a op b over [0, bound), bound a multiple of {@link #L}; returns where the vector loop stopped (0: no vector body for op). */
    static int binary(BinaryOp op, float[] a, float[] b, float[] y, int n) {
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
        return i;
    }

    /**
     * Sum of x[0..n) as {@link FloatKernels#sum}: {@link FloatKernels#SUM_LANES} float accumulators (K vectors
     * of L lanes side by side), added in lane order in double, then the tail in double.
     */
    static double sum(float[] x, int n, float[] lanes) {
        int i = 0, bound = n - n % FloatKernels.SUM_LANES;
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        for (; i < bound; i += FloatKernels.SUM_LANES) {
            a0 = a0.add(FloatVector.fromArray(S, x, i));
            if (K >= 2) a1 = a1.add(FloatVector.fromArray(S, x, i + L));
            if (K == 4) {
                a2 = a2.add(FloatVector.fromArray(S, x, i + 2 * L));
                a3 = a3.add(FloatVector.fromArray(S, x, i + 3 * L));
            }
        }
        a0.intoArray(lanes, 0);
        if (K >= 2) a1.intoArray(lanes, L);
        if (K == 4) { a2.intoArray(lanes, 2 * L); a3.intoArray(lanes, 3 * L); }
        double s = 0;
        for (int j = 0; j < FloatKernels.SUM_LANES; j++) s += lanes[j];
        for (; i < n; i++) s += x[i];
        return s;
    }

    /** max over x[0..n); order does not matter for max (NaN wins, -0 < +0), so any lane count gives the same bits. */
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

    /** y[i] = cond[i] != 0 ? a[i] : b[i] over [0, bound); returns bound. */
    static int select(float[] cond, float[] a, float[] b, float[] y, int n) {
        int i = 0, bound = S.loopBound(n);
        for (; i < bound; i += S.length()) {
            VectorMask<Float> take = FloatVector.fromArray(S, cond, i).compare(VectorOperators.NE, 0f);
            FloatVector.fromArray(S, b, i).blend(FloatVector.fromArray(S, a, i), take).intoArray(y, i);
        }
        return i;
    }

    /** y[i] = out[i] <= 0 ? 0 : g[i] (ReLU's backward; NaN out keeps g) over [0, bound); returns bound. */
    static int reluBackward(float[] g, float[] out, float[] y, int n) {
        int i = 0, bound = S.loopBound(n);
        FloatVector zero = FloatVector.zero(S);
        for (; i < bound; i += S.length()) {
            VectorMask<Float> off = FloatVector.fromArray(S, out, i).compare(VectorOperators.LE, 0f);
            FloatVector.fromArray(S, g, i).blend(zero, off).intoArray(y, i);
        }
        return i;
    }

    /** y[i] += x[i] over [0, bound); returns bound. */
    static int accumulate(float[] x, float[] y, int n) {
        int i = 0, bound = S.loopBound(n);
        for (; i < bound; i += S.length()) FloatVector.fromArray(S, y, i).add(FloatVector.fromArray(S, x, i)).intoArray(y, i);
        return i;
    }

    /** {@link FloatKernels#dot}: K vectors of L fma lanes side by side, added in lane order in double, then the tail. */
    static double dot(float[] a, float[] b, int n, float[] lanes) {
        int i = 0, bound = n - n % FloatKernels.SUM_LANES;
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        for (; i < bound; i += FloatKernels.SUM_LANES) {
            a0 = FloatVector.fromArray(S, a, i).fma(FloatVector.fromArray(S, b, i), a0);
            if (K >= 2) a1 = FloatVector.fromArray(S, a, i + L).fma(FloatVector.fromArray(S, b, i + L), a1);
            if (K == 4) {
                a2 = FloatVector.fromArray(S, a, i + 2 * L).fma(FloatVector.fromArray(S, b, i + 2 * L), a2);
                a3 = FloatVector.fromArray(S, a, i + 3 * L).fma(FloatVector.fromArray(S, b, i + 3 * L), a3);
            }
        }
        a0.intoArray(lanes, 0);
        if (K >= 2) a1.intoArray(lanes, L);
        if (K == 4) { a2.intoArray(lanes, 2 * L); a3.intoArray(lanes, 3 * L); }
        double s = 0;
        for (int j = 0; j < FloatKernels.SUM_LANES; j++) s += lanes[j];
        for (; i < n; i++) s += (double) a[i] * b[i];
        return s;
    }
}
