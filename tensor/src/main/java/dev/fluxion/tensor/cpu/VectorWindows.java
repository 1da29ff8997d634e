package dev.fluxion.tensor.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API bodies of {@link CpuWindows}' loops, for when the C kernels ({@link NativeKernels}) are off (loaded
 * only when {@link Simd#ENABLED}): the 2x2 max-pool, each
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
        // Masks stay local (no helper taking or returning a vector): a call C2 does not inline boxes its vectors.
        // "v replaces best" is v > best, or v NaN (v != v) and best not (best == best).
        int q = 0, bound = S.loopBound(n);
        FloatVector zero = FloatVector.zero(S), one = FloatVector.broadcast(S, 1f), two = FloatVector.broadcast(S, 2f), three = FloatVector.broadcast(S, 3f);
        for (; q < bound; q += S.length()) {
            FloatVector a = FloatVector.fromArray(S, x, q), b = FloatVector.fromArray(S, x, q + 1);
            FloatVector c = FloatVector.fromArray(S, x, q + w), d = FloatVector.fromArray(S, x, q + w + 1);
            VectorMask<Float> aOk = a.compare(VectorOperators.EQ, a), cOk = c.compare(VectorOperators.EQ, c);
            VectorMask<Float> tb = b.compare(VectorOperators.GT, a).or(b.compare(VectorOperators.NE, b).and(aOk));
            VectorMask<Float> td = d.compare(VectorOperators.GT, c).or(d.compare(VectorOperators.NE, d).and(cOk));
            FloatVector top = a.blend(b, tb), bottom = c.blend(d, td);
            VectorMask<Float> tv = bottom.compare(VectorOperators.GT, top).or(bottom.compare(VectorOperators.NE, bottom).and(top.compare(VectorOperators.EQ, top)));
            top.blend(bottom, tv).intoArray(m, q);
            zero.blend(one, tb).blend(two.blend(three, td), tv).intoArray(which, q);
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
}
