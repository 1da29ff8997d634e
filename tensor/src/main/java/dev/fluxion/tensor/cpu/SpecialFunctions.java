package dev.fluxion.tensor.cpu;

/** The normal CDF for GELU: exact via erf for float64, a fast form for float32. */
final class SpecialFunctions {
    private SpecialFunctions() {}

    static final double INV_SQRT2 = 0.7071067811865476;
    static final double INV_SQRT_2PI = 0.3989422804014327;
    static final double SQRT_2_OVER_PI = 0.7978845608028654;

    /** erf(x) to about 1e-15, the one implementation torch.erf ({@link dev.fluxion.tensor.MathFn#ERF}) also uses. */
    static double erf(double x) { return dev.fluxion.tensor.MathFn.ERF.apply(x); }

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
