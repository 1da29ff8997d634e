package dev.fluxion.examples;

import java.util.Locale;

/** Prints "step 120/600 | loss 2.3141 | val 2.4012 | 10,532 tok/s | ETA 0:45" at most every two seconds and at evaluations. */
final class Progress {
    private final long total, tokensPerStep, firstStep;
    private final long startNanos = System.nanoTime();
    private long lastPrint;
    private double tokensPerSecond;

    Progress(long firstStep, long total, long tokensPerStep) {
        this.firstStep = firstStep;
        this.total = total;
        this.tokensPerStep = tokensPerStep;
    }

    double tokensPerSecond() { return tokensPerSecond; }

    void update(long step, double loss, double valLoss) {
        long now = System.nanoTime();
        double elapsed = (now - startNanos) / 1e9;
        tokensPerSecond = (step - firstStep) * tokensPerStep / Math.max(elapsed, 1e-9);
        boolean eval = !Double.isNaN(valLoss);
        if (!eval && step != total && now - lastPrint < 2_000_000_000L && step != firstStep + 1) return;
        lastPrint = now;
        long eta = (long) ((total - step) * elapsed / Math.max(step - firstStep, 1));
        System.out.printf(Locale.ROOT, "step %d/%d | loss %.4f%s | %,.0f tok/s | elapsed %s | ETA %s%n", step, total, loss,
                eval ? String.format(Locale.ROOT, " | val %.4f", valLoss) : "", tokensPerSecond, clock((long) elapsed), clock(eta));
    }

    static String clock(long seconds) { return String.format(Locale.ROOT, "%d:%02d", seconds / 60, seconds % 60); }
}
