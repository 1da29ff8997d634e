package dev.fluxion.tensor.cpu;

/** erf for GELU: a series/continued-fraction version exact to ~1e-14 for float64 and a fast one for float32. */
final class SpecialFunctions {
    private SpecialFunctions() {}

    static final double INV_SQRT2 = 0.7071067811865476;
    static final double INV_SQRT_2PI = 0.3989422804014327;
    static final double SQRT_2_OVER_PI = 0.7978845608028654;

    /** erf(x) to about 1e-14: Maclaurin series for |x| < 2.5, Lentz continued fraction for erfc beyond. */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (ax > 6) return x > 0 ? 1 : -1;  // erfc(6) < 2.2e-17 rounds away; also keeps erf(+-inf) = +-1, not NaN
        if (ax < 2.5) {
            double term = x, sum = x, x2 = x * x;
            for (int n = 1; n < 60; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            return 2 / Math.sqrt(Math.PI) * sum;
        }
        double erfc = erfcContinuedFraction(ax);
        return x > 0 ? 1 - erfc : erfc - 1;
    }

    /** erfc(x) for x >= 2.5: x e^{-x^2}/sqrt(pi) / (x^2 + 1/2 / (1 + 1 / (x^2 + 3/2 / (1 + ...)))). */
    private static double erfcContinuedFraction(double x) {
        // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
        double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int k = 1; k < 200; k++) {
            double a = k * 0.5;
            d = x + a * d;
            if (d == 0) d = tiny;
            c = x + a / c;
            if (c == 0) c = tiny;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) break;
        }
        return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
    }

    /** Standard normal CDF in float precision, relative error ~1.2e-7 also in the far left tail. */
    static float normalCdf(float x) {
        // Phi(x) = erfc(-x/sqrt2)/2, erfc by the Chebyshev-fitted form of Numerical Recipes (erfcc).
        float z = Math.abs(x) * (float) INV_SQRT2;
        float t = 1f / (1f + 0.5f * z);
        float r = t * (float) Math.exp(-z * z - 1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f
                + t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f
                + t * (-0.82215223f + t * 0.17087277f)))))))));
        return x >= 0 ? 1f - 0.5f * r : 0.5f * r;
    }

    static double normalCdf(double x) { return 0.5 * (1 + erf(x * INV_SQRT2)); }
}
