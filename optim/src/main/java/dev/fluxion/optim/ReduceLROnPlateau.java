package dev.fluxion.optim;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Lowers the lr of every group when a metric stops improving, as torch.optim.lr_scheduler.ReduceLROnPlateau:
 * after more than {@code patience} calls without an improvement (by more than {@code threshold}, relative or
 * absolute), each group's lr becomes max(lr * factor, minLr), unless that changes it by eps or less; then
 * {@code cooldown} calls pass in which bad calls are not counted.
 *
 * <pre>{@code
 * var plateau = new ReduceLROnPlateau(opt, ReduceLROnPlateau.Config.DEFAULT.withPatience(3).withFactor(0.5));
 * for (int epoch = 0; epoch < epochs; epoch++) { train(); plateau.step(validationLoss()); }
 * }</pre>
 *
 * It changes the optimizer's lrs in place, starting from whatever they are, so it can follow a
 * {@link LrScheduler} only if that scheduler is not stepped any more.
 */
public final class ReduceLROnPlateau {
    /** Whether a lower ({@code MIN}, a loss) or a higher ({@code MAX}, an accuracy) metric is better. */
    public enum Mode {
        /** Lower is better (a loss). */
        MIN,
        /** Higher is better (an accuracy). */
        MAX
    }

    /** Improvement by more than {@code best * threshold} ({@code REL}) or more than {@code threshold} ({@code ABS}). */
    public enum ThresholdMode {
        /** Better means beyond best * (1 -/+ threshold). */
        REL,
        /** Better means beyond best -/+ threshold. */
        ABS
    }

    /** Settings with torch's defaults in {@link #DEFAULT}: min, factor 0.1, patience 10, 1e-4 rel, cooldown 0, minLr 0, eps 1e-8. */
    public record Config(Mode mode, double factor, int patience, double threshold, ThresholdMode thresholdMode, int cooldown,
                         double minLr, double eps) {
        /** torch's defaults. */
        public static final Config DEFAULT = new Config(Mode.MIN, 0.1, 10, 1e-4, ThresholdMode.REL, 0, 0, 1e-8);

        /** Checks the settings (factor in [0, 1) as torch requires); an error names the setting and its value. */
        public Config {
            String owner = "ReduceLROnPlateau.Config";
            Objects.requireNonNull(mode, owner + ": mode is null");
            Objects.requireNonNull(thresholdMode, owner + ": thresholdMode is null");
            Checks.inUnitInterval(owner, "factor", factor);   // torch refuses factor >= 1
            if (patience < 0) throw new IllegalArgumentException(owner + ": patience must be >= 0, got " + patience);
            if (cooldown < 0) throw new IllegalArgumentException(owner + ": cooldown must be >= 0, got " + cooldown);
            Checks.nonNegative(owner, "threshold", threshold);
            Checks.finite(owner, "threshold", threshold);
            Checks.nonNegative(owner, "minLr", minLr);
            Checks.finite(owner, "minLr", minLr);
            Checks.nonNegative(owner, "eps", eps);
            Checks.finite(owner, "eps", eps);
        }

        /** This config with mode replaced. */
        public Config withMode(Mode v) { return new Config(v, factor, patience, threshold, thresholdMode, cooldown, minLr, eps); }
        /** This config with factor replaced. */
        public Config withFactor(double v) { return new Config(mode, v, patience, threshold, thresholdMode, cooldown, minLr, eps); }
        /** This config with patience replaced. */
        public Config withPatience(int v) { return new Config(mode, factor, v, threshold, thresholdMode, cooldown, minLr, eps); }
        /** This config with threshold and its mode replaced. */
        public Config withThreshold(double v, ThresholdMode m) { return new Config(mode, factor, patience, v, m, cooldown, minLr, eps); }
        /** This config with cooldown replaced. */
        public Config withCooldown(int v) { return new Config(mode, factor, patience, threshold, thresholdMode, v, minLr, eps); }
        /** This config with minLr replaced. */
        public Config withMinLr(double v) { return new Config(mode, factor, patience, threshold, thresholdMode, cooldown, v, eps); }
        /** This config with eps replaced. */
        public Config withEps(double v) { return new Config(mode, factor, patience, threshold, thresholdMode, cooldown, minLr, v); }
    }

    private final Optimizer<?, ?> optimizer;
    private final Config config;
    private double best;
    private long badSteps;
    private long cooldownLeft;
    private long steps;

    /** Follows a metric for every group of optimizer; the best so far starts at the worst value for the mode. */
    public ReduceLROnPlateau(Optimizer<?, ?> optimizer, Config config) {
        this.optimizer = Objects.requireNonNull(optimizer, "ReduceLROnPlateau: optimizer is null");
        this.config = Objects.requireNonNull(config, "ReduceLROnPlateau: config is null");
        best = worst();
    }

    /**
     * Records this epoch's metric and lowers the lrs if it has not improved for more than patience calls.
     * A NaN metric counts as no improvement (as in torch). Returns whether the lrs were lowered.
     */
    public boolean step(double metric) {
        steps++;
        if (isBetter(metric)) {
            best = metric;
            badSteps = 0;
        } else {
            badSteps++;
        }
        if (cooldownLeft > 0) {
            cooldownLeft--;
            badSteps = 0;   // bad calls in cooldown are not counted
        }
        if (badSteps <= config.patience) return false;
        boolean changed = false;
        for (int g = 0; g < optimizer.groupCount(); g++) {
            double old = optimizer.lr(g), lowered = Math.max(old * config.factor, config.minLr);
            if (old - lowered > config.eps) {
                optimizer.setLr(g, lowered);
                changed = true;
            }
        }
        cooldownLeft = config.cooldown;
        badSteps = 0;
        return changed;
    }

    private boolean isBetter(double metric) {
        return switch (config.mode) {
            case MIN -> config.thresholdMode == ThresholdMode.REL ? metric < best * (1 - config.threshold) : metric < best - config.threshold;
            case MAX -> config.thresholdMode == ThresholdMode.REL ? metric > best * (config.threshold + 1) : metric > best + config.threshold;
        };
    }

    private double worst() { return config.mode == Mode.MIN ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY; }

    /** The settings. */
    public Config config() { return config; }

    /** The best metric seen so far (+inf for MIN, -inf for MAX before the first call). */
    public double best() { return best; }

    /** Calls without improvement since the last improvement or reduction. */
    public long badSteps() { return badSteps; }

    /** Calls left in the current cooldown. */
    public long cooldownLeft() { return cooldownLeft; }

    /** Calls of {@link #step} so far. */
    public long stepCount() { return steps; }

    /** {@code best} (0-dim float64), {@code bad_steps}, {@code cooldown_left}, {@code step} (0-dim int64). The lrs live in the optimizer's state. */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("best", Tensor.scalar(best, DType.FLOAT64));
        out.put("bad_steps", Tensor.scalar(badSteps, DType.INT64));
        out.put("cooldown_left", Tensor.scalar(cooldownLeft, DType.INT64));
        out.put("step", Tensor.scalar(steps, DType.INT64));
        return out;
    }

    /** Restores the counters and the best metric (checked first; nothing changes on error). */
    public void loadStateDict(Map<String, Tensor> dict) {
        String owner = "ReduceLROnPlateau.loadStateDict";
        Objects.requireNonNull(dict, owner + ": state dict is null");
        Set<String> expected = Set.of("best", "bad_steps", "cooldown_left", "step");
        if (!dict.keySet().equals(expected))
            throw new IllegalArgumentException(owner + ": entries " + new TreeSet<>(dict.keySet()) + " do not match the expected "
                    + new TreeSet<>(expected));
        double newBest = value(dict, "best", DType.FLOAT64, owner);
        long[] counters = new long[3];
        String[] names = {"bad_steps", "cooldown_left", "step"};
        for (int i = 0; i < 3; i++) {
            counters[i] = (long) value(dict, names[i], DType.INT64, owner);
            if (counters[i] < 0) throw new IllegalArgumentException(owner + ": " + names[i] + " must be >= 0, got " + counters[i]);
        }
        best = newBest;
        badSteps = counters[0];
        cooldownLeft = counters[1];
        steps = counters[2];
    }

    private static double value(Map<String, Tensor> dict, String key, DType dtype, String owner) {
        Tensor t = dict.get(key);
        if (t.dim() != 0 || t.dtype() != dtype)
            throw new IllegalArgumentException(owner + ": " + key + " must be a 0-dim " + dtype + " tensor, got " + t.dtype() + " of shape "
                    + Arrays.toString(t.shape()));
        return dtype == DType.INT64 ? t.toLongArray()[0] : t.item();
    }
}
