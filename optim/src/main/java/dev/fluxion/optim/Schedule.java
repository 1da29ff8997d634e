package dev.fluxion.optim;

/**
 * A learning-rate schedule: the lr that optimizer step {@code step} (counting from 0) uses in a group whose
 * base lr is {@code baseLr}. An {@link LrScheduler} applies one to an optimizer.
 *
 * <pre>{@code
 * Schedule.constant()                              // baseLr always
 * Schedule.stepDecay(30, 0.1)                      // as torch StepLR: baseLr * 0.1^(step / 30)
 * Schedule.warmupCosine(2000, 100_000, 6e-5)       // linear warm-up, cosine decay to 6e-5, then 6e-5
 * }</pre>
 */
public sealed interface Schedule permits Schedule.Constant, Schedule.StepDecay, Schedule.WarmupCosine {

    double lr(double baseLr, long step);

    static Schedule constant() { return new Constant(); }

    static Schedule stepDecay(long stepSize, double gamma) { return new StepDecay(stepSize, gamma); }

    static Schedule warmupCosine(long warmupSteps, long totalSteps, double minLr) { return new WarmupCosine(warmupSteps, totalSteps, minLr); }

    /** The base lr at every step. */
    record Constant() implements Schedule {
        @Override public double lr(double baseLr, long step) { return baseLr; }
    }

    /** baseLr * gamma^floor(step / stepSize), as torch.optim.lr_scheduler.StepLR. */
    record StepDecay(long stepSize, double gamma) implements Schedule {
        public StepDecay {
            if (stepSize < 1) throw new IllegalArgumentException("Schedule.StepDecay: stepSize must be >= 1, got " + stepSize);
            Checks.nonNegative("Schedule.StepDecay", "gamma", gamma);
            Checks.finite("Schedule.StepDecay", "gamma", gamma);
        }

        @Override public double lr(double baseLr, long step) { return baseLr * Math.pow(gamma, step / stepSize); }
    }

    /**
     * Linear warm-up then cosine decay to minLr:
     * <pre>
     *   step &lt; warmupSteps:   baseLr * (step + 1) / warmupSteps
     *   step &lt; totalSteps:    minLr + (baseLr - minLr) * (1 + cos(pi * (step - warmupSteps) / (totalSteps - warmupSteps))) / 2
     *   later:                minLr
     * </pre>
     * minLr is absolute and the same for every group, as eta_min of torch's CosineAnnealingLR.
     */
    record WarmupCosine(long warmupSteps, long totalSteps, double minLr) implements Schedule {
        public WarmupCosine {
            if (warmupSteps < 0) throw new IllegalArgumentException("Schedule.WarmupCosine: warmupSteps must be >= 0, got " + warmupSteps);
            if (totalSteps < warmupSteps)
                throw new IllegalArgumentException("Schedule.WarmupCosine: totalSteps must be >= warmupSteps, got totalSteps " + totalSteps
                        + " and warmupSteps " + warmupSteps);
            Checks.nonNegative("Schedule.WarmupCosine", "minLr", minLr);
            Checks.finite("Schedule.WarmupCosine", "minLr", minLr);
        }

        @Override public double lr(double baseLr, long step) {
            if (step < warmupSteps) return baseLr * (step + 1) / warmupSteps;
            if (step >= totalSteps) return minLr;
            double progress = (double) (step - warmupSteps) / (totalSteps - warmupSteps);
            return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
        }
    }
}
