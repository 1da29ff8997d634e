package dev.fluxion.tensor.cpu;

import static dev.fluxion.tensor.cpu.SpecialFunctions.INV_SQRT2;

/**
 * {@link VectorMath}'s exp, log and tanh, and the normal CDF of {@link VectorKernels}, one float at a time: the
 * same IEEE operations in the same order as one vector lane, so a scalar loop (no Vector API, or a loop tail)
 * gives the same bits as the vector body. Keep each method in step with its vector twin.
 */
final class ScalarMath {
    private ScalarMath() {}

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    static final float EXP_HI = 88.7228394f, EXP_LO = -87.3365479f;
    private static final float MAGIC = 12582912f;
    private static final int MAGIC_BITS = 0x4B400000;
    private static final float SQRTHF = 0.707106781186547524f;

    static float exp(float x) {
        float xc = Math.min(Math.max(x, EXP_LO), EXP_HI);
        float shifted = xc * LOG2E + MAGIC;
        float n = shifted - MAGIC;
        float r = xc - n * LN2_HI - n * LN2_LO;
        float r2 = r * r;
        float p = ((((r * 1.9875691500e-4f + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f)
                * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
        float y = p * r2 + r + 1f;
        float out = y * Float.intBitsToFloat((Float.floatToRawIntBits(shifted) - (MAGIC_BITS - 127)) << 23);
        if (x > EXP_HI) out = Float.POSITIVE_INFINITY;
        if (x < EXP_LO) out = 0f;
        return x != x ? x : out;
    }

    static float log(float x) {
        if (!(x >= Float.MIN_NORMAL && x < Float.POSITIVE_INFINITY)) return (float) Math.log(x);
        int bits = Float.floatToRawIntBits(x);
        int e = (bits >>> 23) - 126;
        float m = Float.intBitsToFloat(bits & 0x807fffff | 0x3f000000);
        float ef = Float.intBitsToFloat(e + MAGIC_BITS) - MAGIC;
        if (m < SQRTHF) { ef = ef - 1f; m = m + m - 1f; } else m = m - 1f;
        float z = m * m;
        float y = ((((((((m * 7.0376836292e-2f + -1.1514610310e-1f) * m + 1.1676998740e-1f) * m + -1.2420140846e-1f)
                * m + 1.4249322787e-1f) * m + -1.6668057665e-1f) * m + 2.0000714765e-1f) * m + -2.4999993993e-1f)
                * m + 3.3333331174e-1f) * m * z;
        y = y + ef * LN2_LO - z * 0.5f;
        return m + y + ef * LN2_HI;
    }

    static float tanh(float x) {
        if (x != x || x == 0f) return x;
        float ax = Math.abs(x);
        if (ax < 0.625f) {
            float z = x * x;
            float p = (((z * -5.70498872745e-3f + 2.06390887954e-2f) * z + -5.37397155531e-2f) * z + 1.33314422036e-1f)
                    * z + -3.33332819422e-1f;
            return p * z * x + x;
        }
        float e = exp(Math.min(ax * 2f, EXP_HI));
        float big = 1f - 2f / (e + 1f);
        return x < 0f ? -big : big;
    }

    /** Phi(x) as {@code VectorKernels.normalCdf}, lane by lane. */
    static float normalCdf(float x) {
        float z = Math.abs(x) * (float) INV_SQRT2;
        float t = 1f / (z * 0.5f + 1f);
        float poly = ((((((((t * 0.17087277f + -0.82215223f) * t + 1.48851587f) * t + -1.13520398f) * t + 0.27886807f)
                * t + -0.18628806f) * t + 0.09678418f) * t + 0.37409196f) * t + 1.00002368f) * t + -1.26551223f;
        float r = t * exp(-(z * z) + poly);
        float half = r * 0.5f;
        return x < 0f ? half : 1f - half;
    }
}
