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
 * Sets the lr of every group of an optimizer from a {@link Schedule}, as a torch.optim.lr_scheduler: the
 * base lr of each group is its lr when the scheduler is made; construction sets the lr for step 0 and each
 * {@link #step()} (called after {@code optimizer.step()}) the lr for the next step.
 *
 * <pre>{@code
 * var sched = new LrScheduler(opt, Schedule.warmupCosine(100, 5000, 1e-5));
 * for (...) { ...; opt.step(); sched.step(); }
 * }</pre>
 *
 * {@link #stateDict} holds {@code step} (0-dim int64: optimizer steps taken) and {@code base_lr.g} (0-dim
 * float64 per group). The schedule itself is code, not state: build the same one before loading.
 */
public final class LrScheduler {
    private final Optimizer<?, ?> optimizer;
    private final Schedule schedule;
    private final double[] baseLrs;
    private long step;

    public LrScheduler(Optimizer<?, ?> optimizer, Schedule schedule) {
        this.optimizer = Objects.requireNonNull(optimizer, "LrScheduler: optimizer is null");
        this.schedule = Objects.requireNonNull(schedule, "LrScheduler: schedule is null");
        baseLrs = new double[optimizer.groupCount()];
        for (int g = 0; g < baseLrs.length; g++) baseLrs[g] = optimizer.lr(g);
        apply();
    }

    /** Advances to the next optimizer step and sets its lr in every group. */
    public void step() {
        step++;
        apply();
    }

    /** Optimizer steps taken so far (the index of the step the current lr is for). */
    public long stepCount() { return step; }

    public Schedule schedule() { return schedule; }

    public double baseLr(int group) { return baseLrs[group]; }

    /** The lr each group has now. */
    public double[] currentLrs() {
        double[] out = new double[baseLrs.length];
        for (int g = 0; g < out.length; g++) out[g] = optimizer.lr(g);
        return out;
    }

    private void apply() {
        for (int g = 0; g < baseLrs.length; g++) optimizer.setLr(g, schedule.lr(baseLrs[g], step));
    }

    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("step", Tensor.scalar(step, DType.INT64));
        for (int g = 0; g < baseLrs.length; g++) out.put("base_lr." + g, Tensor.scalar(baseLrs[g], DType.FLOAT64));
        return out;
    }

    /** Restores the step and base lrs (checked first; nothing changes on error) and sets the lr of every group. */
    public void loadStateDict(Map<String, Tensor> dict) {
        String owner = "LrScheduler.loadStateDict";
        Objects.requireNonNull(dict, owner + ": state dict is null");
        Set<String> expected = new TreeSet<>();
        expected.add("step");
        for (int g = 0; g < baseLrs.length; g++) expected.add("base_lr." + g);
        if (!dict.keySet().equals(expected))
            throw new IllegalArgumentException(owner + ": entries " + new TreeSet<>(dict.keySet()) + " do not match the expected " + expected
                    + " (an optimizer with " + baseLrs.length + " groups)");
        long newStep = (long) scalar(dict, "step", DType.INT64, owner);
        if (newStep < 0) throw new IllegalArgumentException(owner + ": step must be >= 0, got " + newStep);
        double[] newBase = new double[baseLrs.length];
        for (int g = 0; g < newBase.length; g++) {
            newBase[g] = scalar(dict, "base_lr." + g, DType.FLOAT64, owner);
            Checks.nonNegative(owner, "base_lr." + g, newBase[g]);
        }
        step = newStep;
        System.arraycopy(newBase, 0, baseLrs, 0, baseLrs.length);
        apply();
    }

    private static double scalar(Map<String, Tensor> dict, String key, DType dtype, String owner) {
        Tensor t = dict.get(key);
        if (t.dim() != 0 || t.dtype() != dtype)
            throw new IllegalArgumentException(owner + ": " + key + " must be a 0-dim " + dtype + " tensor, got " + t.dtype() + " of shape " + Arrays.toString(t.shape()));
        return dtype == DType.INT64 ? t.toLongArray()[0] : t.item();
    }
}
