package dev.fluxion.tensor;

/**
 * A seeded random stream (SplitMix64), reproducible run to run and independent of thread count: values
 * are drawn in element order on the calling thread. Its state is one long, saved in checkpoints.
 *
 * <pre>{@code var g = new Generator(42); Tensor w = Tensor.randn(g, 3, 3); }</pre>
 *
 * <p>Every random op called without a generator ({@code Tensor.rand(3, 3)}, {@code Functional.dropout(x, p)},
 * {@code Init.global()}, multinomial, randperm, bernoulli, ...) draws from one global generator, which
 * {@link #manualSeed} reseeds (as torch.manual_seed). Tensor ops hold a generator's lock while they draw,
 * so threads sharing one get whole, non-interleaved draws.
 */
public final class Generator {
    /** The seed the global generator starts from when {@link #manualSeed} is never called (fixed: runs are reproducible by default). */
    public static final long DEFAULT_SEED = 0x5EEDL;

    private static final Generator GLOBAL = new Generator(DEFAULT_SEED);

    private long state;
    private double spareNormal = Double.NaN;

    /** A generator of its own stream, starting from seed. */
    public Generator(long seed) { this.state = seed; }

    /** Reseeds the global generator (as torch.manual_seed): the same seed gives the same values from every op that uses it. */
    public static void manualSeed(long seed) {
        synchronized (GLOBAL) {
            GLOBAL.state = seed;
            GLOBAL.spareNormal = Double.NaN;
        }
    }

    /** The global generator, which random ops called without a generator draw from. */
    public static Generator global() { return GLOBAL; }

    /** The full state, for checkpoints; {@link #setState} restores it. */
    public synchronized long[] state() { return new long[] {state, Double.doubleToRawLongBits(spareNormal)}; }

    /** Restores a state {@link #state()} returned. */
    public synchronized void setState(long[] s) {
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

    /**
     * The key of one draw made on a device (a counter-based generator there keyed by it): the next value of this
     * stream, taken under the generator's lock as every tensor draw is.
     */
    synchronized long nextKey() { return nextLong(); }

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
