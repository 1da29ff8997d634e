package dev.fluxion.parallel;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Makes chosen ranks slower by a factor, for experiments on stragglers ({@code --slow-rank 2:3x}): after each
 * step, a rank with factor f sleeps (f - 1) times the time its step took, so it runs f times slower than it
 * would, whatever the machine.
 *
 * <pre>{@code
 * Straggler slow = Straggler.parse("2:3x,5:1.5x");
 * long t0 = System.nanoTime();
 * ... one step ...
 * slow.pace(rank, System.nanoTime() - t0);
 * }</pre>
 */
public record Straggler(Map<Integer, Double> factors) {
    public static final Straggler NONE = new Straggler(Map.of());

    public Straggler {
        for (var e : factors.entrySet())
            if (e.getKey() < 0 || !(e.getValue() >= 1) || !Double.isFinite(e.getValue()))
                throw new IllegalArgumentException("Straggler: rank " + e.getKey() + " with factor " + e.getValue() + "; ranks are >= 0 and factors finite and >= 1");
        factors = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(factors));   // sorted by rank: printed in rank order
    }

    /** Parses "RANK:FACTORx" entries separated by commas ("2:3x", "1:2,3:1.5x"); empty: nobody is slowed. */
    public static Straggler parse(String spec) {
        if (spec == null || spec.isBlank()) return NONE;
        Map<Integer, Double> m = new TreeMap<>();
        for (String part : spec.split(",")) {
            String p = part.trim().toLowerCase(Locale.ROOT);
            int colon = p.indexOf(':');
            try {
                if (colon < 0) throw new NumberFormatException();
                String f = p.substring(colon + 1);
                if (f.endsWith("x")) f = f.substring(0, f.length() - 1);
                m.put(Integer.parseInt(p.substring(0, colon)), Double.parseDouble(f));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--slow-rank '" + part + "' is not RANK:FACTORx (for example 2:3x)");
            }
        }
        return new Straggler(m);
    }

    /** The factor of rank (1 when it is not slowed). */
    public double factor(int rank) { return factors.getOrDefault(rank, 1.0); }

    /** How long rank should wait after a step that took stepNanos. */
    public long delayNanos(int rank, long stepNanos) { return Math.round((factor(rank) - 1) * Math.max(0, stepNanos)); }

    /** Sleeps {@link #delayNanos}. */
    public void pace(int rank, long stepNanos) {
        long d = delayNanos(rank, stepNanos);
        if (d <= 0) return;
        try {
            Thread.sleep(d / 1_000_000, (int) (d % 1_000_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override public String toString() {
        StringBuilder b = new StringBuilder();
        factors.forEach((r, f) -> b.append(b.isEmpty() ? "" : ",").append(r).append(':').append(f).append('x'));
        return b.isEmpty() ? "none" : b.toString();
    }
}
