package dev.fluxion.tensor;

/**
 * A seeded random stream (SplitMix64), reproducible run to run and independent of thread count: values
 * are drawn in element order on the calling thread. Its state is one long, saved in checkpoints.
 *
 * <pre>{@code var g = new Generator(42); Tensor w = Tensor.randn(g, 3, 3); }</pre>
 */
public final class Generator {
    private long state;
    private double spareNormal = Double.NaN;

    public Generator(long seed) { this.state = seed; }

    /** The full state, for checkpoints; {@link #setState} restores it. */
    public long[] state() { return new long[] {state, Double.doubleToRawLongBits(spareNormal)}; }

    public void setState(long[] s) {
        if (s.length != 2) throw new IllegalArgumentException("Generator.setState: expected 2 longs, got " + s.length);
        state = s[0];
        spareNormal = Double.longBitsToDouble(s[1]);
    }

    public long nextLong() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform on [0, 1) with 53 random bits. */
    public double nextDouble() { return (nextLong() >>> 11) * 0x1.0p-53; }

    /** Uniform on [0, 1) with 24 random bits (every float in the range reachable at its spacing). */
    public float nextFloat() { return (nextLong() >>> 40) * 0x1.0p-24f; }

    /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
    public double nextGaussian() {
        if (!Double.isNaN(spareNormal)) {
            double v = spareNormal;
            spareNormal = Double.NaN;
            return v;
        }
        double u1 = 1.0 - nextDouble(); // (0, 1]: log is finite
        double u2 = nextDouble();
        double r = Math.sqrt(-2 * Math.log(u1));
        spareNormal = r * Math.sin(2 * Math.PI * u2);
        return r * Math.cos(2 * Math.PI * u2);
    }

    /** Uniform integer in [low, high). */
    public long nextLong(long low, long high) {
        if (high <= low) throw new IllegalArgumentException("Generator.nextLong: low " + low + " must be < high " + high);
        long bound = high - low;
        long mask = Long.highestOneBit(bound) * 2 - 1;
        long r;
        do { r = nextLong() & mask; } while (Long.compareUnsigned(r, bound) >= 0); // rejection: no modulo bias
        return low + r;
    }
}
