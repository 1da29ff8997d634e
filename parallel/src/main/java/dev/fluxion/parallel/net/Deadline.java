package dev.fluxion.parallel.net;

import java.time.Duration;

/** A point in System.nanoTime() time; every blocking network call takes one. */
public record Deadline(long nanos) {
    public static Deadline after(Duration d) { return new Deadline(System.nanoTime() + saturate(d)); }

    public static Deadline afterMillis(long ms) { return after(Duration.ofMillis(ms)); }

    /** A deadline a century away, for waits that are legitimately unbounded (a server waiting for the next request). */
    public static Deadline never() { return new Deadline(System.nanoTime() + Long.MAX_VALUE / 2); }

    public boolean passed() { return System.nanoTime() - nanos >= 0; }

    /** Milliseconds left, at least 1 while not passed, 0 once passed (for Selector.select, where 0 means forever). */
    public long millisLeft() {
        long left = nanos - System.nanoTime();
        return left <= 0 ? 0 : Math.max(1, left / 1_000_000);
    }

    /** The earlier of this and other. */
    public Deadline min(Deadline other) { return nanos - other.nanos <= 0 ? this : other; }

    private static long saturate(Duration d) {
        try { return d.toNanos(); } catch (ArithmeticException e) { return Long.MAX_VALUE / 4; }
    }

    /** "2.5 s", "300 ms": how durations appear in messages. */
    public static String format(Duration d) {
        long ms = d.toMillis();
        return ms < 1000 ? ms + " ms" : String.format(java.util.Locale.ROOT, "%.1f s", ms / 1000.0);
    }
}
