package dev.fluxion.tensor.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * exp, log and tanh for float lanes, written with IEEE add/mul/fma and bit operations only (Cephes'
 * single-precision polynomials, about 1 ulp). The Vector API's own EXP/LOG/TANH give different bits when
 * intrinsified (SVML) than in the interpreter, so a run's results would depend on JIT timing; these do not,
 * which is what makes a resumed training run bitwise equal to an uninterrupted one.
 */
final class VectorMath {
    private VectorMath() {}

    static final VectorSpecies<Float> S = VectorKernels.S;

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float EXP_HI = 88.7228394f, EXP_LO = -87.3365479f;   // beyond: inf, and 0 (denormals flushed)

    /**
     * 1.5 * 2^23: adding it to a float of magnitude < 2^22 rounds it to an integer held in the low mantissa
     * bits. The Vector API's F2I/I2F conversions are not intrinsified on JDK 17 (5 ns a lane); this is 2 adds.
     */
    private static final float MAGIC = 12582912f;
    private static final int MAGIC_BITS = 0x4B400000;

    static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(EXP_LO).min(EXP_HI);
        FloatVector shifted = xc.mul(LOG2E).add(MAGIC);                        // n = rint(x log2 e), |r| <= ln2/2
        FloatVector n = shifted.sub(MAGIC);
        FloatVector r = xc.sub(n.mul(LN2_HI)).sub(n.mul(LN2_LO));
        FloatVector r2 = r.mul(r);
        FloatVector p = r.mul(1.9875691500e-4f).add(1.3981999507e-3f).mul(r).add(8.3334519073e-3f).mul(r).add(4.1665795894e-2f)
                .mul(r).add(1.6666665459e-1f).mul(r).add(5.0000001201e-1f);
        FloatVector y = p.mul(r2).add(r).add(1f);
        IntVector bits = shifted.reinterpretAsInts().sub(MAGIC_BITS - 127).lanewise(VectorOperators.LSHL, 23);   // 2^n
        FloatVector out = y.mul(bits.reinterpretAsFloats());
        out = out.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_HI));
        out = out.blend(0f, x.compare(VectorOperators.LT, EXP_LO));
        return out.blend(x, x.compare(VectorOperators.NE, x));                   // NaN stays NaN
    }

    private static final float SQRTHF = 0.707106781186547524f;

    static FloatVector log(FloatVector x) {
        VectorMask<Float> normal = x.compare(VectorOperators.GE, Float.MIN_NORMAL).and(x.compare(VectorOperators.LT, Float.POSITIVE_INFINITY));
        IntVector bits = x.reinterpretAsInts();
        IntVector e = bits.lanewise(VectorOperators.LSHR, 23).sub(126);                      // x = m * 2^e, m in [0.5, 1)
        FloatVector m = bits.and(0x807fffff).or(0x3f000000).reinterpretAsFloats();
        FloatVector ef = e.add(MAGIC_BITS).reinterpretAsFloats().sub(MAGIC);                 // int to float, exact for |e| < 2^22
        VectorMask<Float> small = m.compare(VectorOperators.LT, SQRTHF);
        ef = ef.blend(ef.sub(1f), small);
        m = m.blend(m.add(m), small).sub(1f);                                                  // m + m - 1 or m - 1
        FloatVector z = m.mul(m);
        FloatVector y = m.mul(7.0376836292e-2f).add(-1.1514610310e-1f).mul(m).add(1.1676998740e-1f).mul(m).add(-1.2420140846e-1f)
                .mul(m).add(1.4249322787e-1f).mul(m).add(-1.6668057665e-1f).mul(m).add(2.0000714765e-1f).mul(m)
                .add(-2.4999993993e-1f).mul(m).add(3.3333331174e-1f).mul(m).mul(z);
        y = y.add(ef.mul(LN2_LO)).sub(z.mul(0.5f));
        FloatVector out = m.add(y).add(ef.mul(LN2_HI));
        if (!normal.allTrue()) {                                                               // 0, negatives, denormals, inf, NaN
            float[] xs = x.toArray(), os = out.toArray();
            for (int i = 0; i < xs.length; i++) if (!normal.laneIsSet(i)) os[i] = (float) Math.log(xs[i]);
            out = FloatVector.fromArray(S, os, 0);
        }
        return out;
    }

    static FloatVector tanh(FloatVector x) {
        FloatVector ax = x.abs();
        FloatVector e = exp(ax.mul(2f).min(EXP_HI));                                         // large |x|: 1 - 2/(e^2|x| + 1)
        FloatVector big = FloatVector.broadcast(S, 1f).sub(FloatVector.broadcast(S, 2f).div(e.add(1f)));
        big = big.blend(big.neg(), x.compare(VectorOperators.LT, 0f));
        FloatVector z = x.mul(x);                                                             // small |x|: odd polynomial
        FloatVector p = z.mul(-5.70498872745e-3f).add(2.06390887954e-2f).mul(z).add(-5.37397155531e-2f).mul(z)
                .add(1.33314422036e-1f).mul(z).add(-3.33332819422e-1f);
        FloatVector smallR = p.mul(z).mul(x).add(x);
        FloatVector out = big.blend(smallR, ax.compare(VectorOperators.LT, 0.625f));
        return out.blend(x, x.compare(VectorOperators.NE, x).or(x.compare(VectorOperators.EQ, 0f)));   // NaN, and the sign of zero
    }
}
