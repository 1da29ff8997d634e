package dev.fluxion.tensor.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API bodies of {@link CpuWindows}' loops (loaded only when {@link Simd#ENABLED}): the 2x2 max-pool, each
 * lane doing what {@link CpuWindows#max2x2At} does for one position, and col2im's runs of adds. Blends instead of branches: on changing data the
 * branches of the scalar rule mispredict about every other window, which cost 3-5x the arithmetic.
 */
final class VectorWindows {
    private VectorWindows() {}

    private static final VectorSpecies<Float> S = VectorKernels.S;

    /**
     * For every top-left position q in [0, bound) of a row-major array of rows w wide: m[q], the max of
     * x[q], x[q+1], x[q+w], x[q+w+1], and which[q] in 0..3, the first of them in that order holding it (a NaN
     * wins). Left against right within each row, then top against bottom, keeps window order on ties. Returns bound.
     */
    static int max2x2(float[] x, int w, float[] m, float[] which, int n) {
        int q = 0, bound = S.loopBound(n);
        FloatVector zero = FloatVector.zero(S), one = FloatVector.broadcast(S, 1f), two = FloatVector.broadcast(S, 2f), three = FloatVector.broadcast(S, 3f);
        for (; q < bound; q += S.length()) {
            FloatVector a = FloatVector.fromArray(S, x, q), b = FloatVector.fromArray(S, x, q + 1);
            FloatVector c = FloatVector.fromArray(S, x, q + w), d = FloatVector.fromArray(S, x, q + w + 1);
            VectorMask<Float> tb = takes(b, a), td = takes(d, c);
            FloatVector top = a.blend(b, tb), bottom = c.blend(d, td);
            FloatVector topAt = zero.blend(one, tb), bottomAt = two.blend(three, td);
            VectorMask<Float> tv = takes(bottom, top);
            top.blend(bottom, tv).intoArray(m, q);
            topAt.blend(bottomAt, tv).intoArray(which, q);
        }
        return q;
    }

    /** y[yOff + t] += x[xOff + t] for t in [0, loopBound(len)); returns where it stopped (the same sums as a scalar loop). */
    static int addInto(float[] x, int xOff, float[] y, int yOff, int len) {
        int t = 0;
        for (int bound = S.loopBound(len); t < bound; t += S.length())
            FloatVector.fromArray(S, y, yOff + t).add(FloatVector.fromArray(S, x, xOff + t)).intoArray(y, yOff + t);
        return t;
    }

    /** Lanes where v replaces best: v > best, or v is NaN and best is not (v != v: test(IS_NAN) is not intrinsified on JDK 17). */
    private static VectorMask<Float> takes(FloatVector v, FloatVector best) {
        return v.compare(VectorOperators.GT, best).or(v.compare(VectorOperators.NE, v).andNot(best.compare(VectorOperators.NE, best)));
    }
}
