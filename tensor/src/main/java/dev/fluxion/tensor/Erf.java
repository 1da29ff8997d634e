package dev.fluxion.tensor;

/** erf(x) in double precision (to about 1e-15): torch.erf ({@link MathFn#ERF}) and, through it, the CPU kernels of exact GELU. */
final class Erf {
    private Erf() {}

    /** Maclaurin series for |x| &lt; 2.5, the continued fraction of erfc beyond. */
    static double erf(double x) {
        if (x != x) return x;
        double ax = Math.abs(x);
        if (ax > 6) return x > 0 ? 1 : -1;           // erfc(6) < 2.2e-17 rounds away
        if (ax < 2.5) {
            double term = x, sum = x, x2 = x * x;
            for (int n = 1; n < 80; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            return 2 / Math.sqrt(Math.PI) * sum;
        }
        double erfc = erfc(ax);
        return x > 0 ? 1 - erfc : erfc - 1;
    }

    /** erfc(x) for x &gt;= 2.5 by Lentz's continued fraction: exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))). */
    private static double erfc(double x) {
        double tiny = 1e-300, f = x, c = x, d = 0;
        for (int k = 1; k < 300; k++) {
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
}
