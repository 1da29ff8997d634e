package dev.fluxion.tensor;

/**
 * Random sampling beyond rand/randn/randint: multinomial, randperm, bernoulli. Each draws from the given
 * {@link Generator} (holding its lock for the whole draw), in element order, on the host.
 */
final class Sampling {
    private Sampling() {}

    /** int64 category indices drawn from each row of probs (1-D [k] -> [n], 2-D [m, k] -> [m, n]); weights need not sum to 1. */
    static Tensor multinomial(Tensor probs, int numSamples, boolean replacement, Generator g) {
        if (probs.dim() != 1 && probs.dim() != 2)
            throw new IllegalArgumentException("multinomial: probabilities must be 1-D or 2-D, got shape " + Shape.str(probs.shape()));
        if (!probs.dtype().isFloatingPoint())
            throw new IllegalArgumentException("multinomial: probabilities must be floating point, got " + probs.dtype());
        int k = probs.size(-1), rows = probs.dim() == 2 ? probs.size(0) : 1;
        if (numSamples <= 0) throw new IllegalArgumentException("multinomial: numSamples must be positive, got " + numSamples);
        if (k == 0) throw new IllegalArgumentException("multinomial: no categories to draw from in shape " + Shape.str(probs.shape()));
        if (!replacement && numSamples > k)
            throw new IllegalArgumentException("multinomial: cannot draw " + numSamples + " samples without replacement from " + k + " categories");
        double[] p = probs.detach().toDoubleArray();
        long[] out = new long[Shape.intCount("multinomial", (long) rows * numSamples)];
        synchronized (g) {
            for (int r = 0; r < rows; r++) {
                double[] w = java.util.Arrays.copyOfRange(p, r * k, (r + 1) * k);
                int positive = 0;
                for (int i = 0; i < k; i++) {
                    if (!(w[i] >= 0) || Double.isInfinite(w[i]))
                        throw new IllegalArgumentException("multinomial: probability " + w[i] + " at row " + r + ", category " + i + " must be finite and >= 0");
                    if (w[i] > 0) positive++;
                }
                if (positive == 0) throw new IllegalArgumentException("multinomial: row " + r + " has no positive probability (its sum is 0)");
                if (!replacement && numSamples > positive)
                    throw new IllegalArgumentException("multinomial: cannot draw " + numSamples + " samples without replacement from row " + r
                            + ", which has only " + positive + " categories of non-zero probability");
                if (replacement) {
                    double[] cdf = new double[k];
                    double acc = 0;
                    for (int i = 0; i < k; i++) cdf[i] = acc += w[i];
                    for (int s = 0; s < numSamples; s++) out[r * numSamples + s] = search(cdf, g.nextDouble() * acc);
                } else {
                    for (int s = 0; s < numSamples; s++) {
                        int c = draw(w, g);
                        out[r * numSamples + s] = c;
                        w[c] = 0;                            // each category at most once
                    }
                }
            }
        }
        Tensor t = probs.dim() == 1 ? Creation.fromArray(out, numSamples) : Creation.fromArray(out, rows, numSamples);
        return t.to(probs.device());
    }

    /** The first category whose cumulative weight exceeds u (never one of weight 0); the last positive one if rounding put u at the top. */
    private static int search(double[] cdf, double u) {
        int lo = 0, hi = cdf.length - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (cdf[mid] > u) hi = mid; else lo = mid + 1;
        }
        while (lo > 0 && cdf[lo] == cdf[lo - 1]) lo--;       // u >= the total: step back over trailing zero weights
        return lo;
    }

    /** One index with probability proportional to w (w has a positive entry). */
    private static int draw(double[] w, Generator g) {
        double total = 0;
        for (double v : w) total += v;
        double u = g.nextDouble() * total, acc = 0;
        int last = -1;
        for (int i = 0; i < w.length; i++) {
            if (w[i] <= 0) continue;
            acc += w[i];
            last = i;
            if (u < acc) return i;
        }
        return last;                                         // rounding left u at the very top: the last positive category
    }

    /** A random permutation of 0..n-1, int64 (Fisher-Yates). */
    static Tensor randperm(int n, Generator g) {
        if (n < 0) throw new IllegalArgumentException("randperm: n must be >= 0, got " + n);
        long[] v = new long[n];
        for (int i = 0; i < n; i++) v[i] = i;
        synchronized (g) {
            for (int i = n - 1; i > 0; i--) {
                int j = (int) g.nextLong(0, i + 1);
                long t = v[i];
                v[i] = v[j];
                v[j] = t;
            }
        }
        return Creation.fromArray(v, n);
    }

    /**
     * bernoulli on a GPU: u &lt; p for uniforms u made there (float32, float64 for float64 p), so nothing is read
     * back. The range of p is not checked there (that would wait for the device): p &lt;= 0 and NaN give 0, p &gt;= 1 gives 1.
     */
    private static Tensor deviceBernoulli(Tensor p, Generator g) {
        DType u = p.dtype() == DType.FLOAT64 ? DType.FLOAT64 : DType.FLOAT32;
        Tensor probs = p.detach();
        return Creation.random(Backend.Draw.UNIFORM, g, u, p.device(), p.shape()).lt(probs.dtype() == u ? probs : probs.to(u)).to(p.dtype());
    }

    /** 1 with probability p, else 0, for each element of p (in [0, 1]); p's dtype, shape and device. */
    static Tensor bernoulli(Tensor p, Generator g) {
        if (!p.dtype().isFloatingPoint())
            throw new IllegalArgumentException("bernoulli: probabilities must be floating point, got " + p.dtype());
        if (p.device().kind() != Device.Kind.CPU) return deviceBernoulli(p, g);
        double[] v = p.detach().toDoubleArray();
        for (int i = 0; i < v.length; i++)
            if (!(v[i] >= 0 && v[i] <= 1))
                throw new IllegalArgumentException("bernoulli: probability " + v[i] + " at flat position " + i + " must be in [0, 1]");
        synchronized (g) { for (int i = 0; i < v.length; i++) v[i] = g.nextDouble() < v[i] ? 1 : 0; }
        return Pointwise.upload(v, p.dtype(), p.shape(), p.device());
    }
}
