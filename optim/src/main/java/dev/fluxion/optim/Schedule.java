package dev.fluxion.optim;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.LongToDoubleFunction;

/**
 * A learning-rate schedule: the lr that optimizer step {@code step} (counting from 0) uses in a group whose
 * base lr is {@code baseLr}. An {@link LrScheduler} applies one to an optimizer. The schedules here are the
 * closed forms of torch.optim.lr_scheduler's (checked against PyTorch's lr sequences); users write their
 * own as a lambda or a class:
 *
 * <pre>{@code
 * Schedule.constant()                              // baseLr always
 * Schedule.stepDecay(30, 0.1)                      // as torch StepLR: baseLr * 0.1^(step / 30)
 * Schedule.warmupCosine(2000, 100_000, 6e-5)       // linear warm-up, cosine decay to 6e-5, then 6e-5
 * Schedule.warmup(500, 0.01, Schedule.cosineAnnealing(10_000, 1e-5))   // LinearLR then CosineAnnealingLR (SequentialLR)
 * Schedule.oneCycle(10_000).withAnneal(Schedule.Anneal.LINEAR)          // OneCycleLR, max_lr = the group's lr
 * Schedule mine = (baseLr, step) -> baseLr / Math.sqrt(1 + step);      // a user's own
 * }</pre>
 *
 * A schedule is a pure function of the step, so a resumed run needs only the step count (see
 * {@link LrScheduler#stateDict}). {@link ReduceLROnPlateau} follows a metric, not the step, and is a
 * separate class.
 */
@FunctionalInterface
public interface Schedule {

    /** The lr for optimizer step {@code step} (>= 0) of a group whose base lr is {@code baseLr}. */
    double lr(double baseLr, long step);

    /** The base lr at every step. */
    static Schedule constant() { return new Constant(); }

    /** baseLr * gamma^floor(step / stepSize), as torch StepLR. */
    static Schedule stepDecay(long stepSize, double gamma) { return new StepDecay(stepSize, gamma); }

    /** Linear warm-up then cosine decay to minLr, then minLr; see {@link WarmupCosine}. */
    static Schedule warmupCosine(long warmupSteps, long totalSteps, double minLr) { return new WarmupCosine(warmupSteps, totalSteps, minLr); }

    /** baseLr * factor(step), as torch LambdaLR (one function for every group). */
    static Schedule lambda(LongToDoubleFunction factor) {
        Objects.requireNonNull(factor, "Schedule.lambda: factor is null");
        return (baseLr, step) -> baseLr * factor.applyAsDouble(step);
    }

    /** baseLr * gamma^(number of milestones {@code <= step}), as torch MultiStepLR (a repeated milestone counts twice). */
    static Schedule multiStep(double gamma, long... milestones) { return new MultiStep(gamma, milestones); }

    /** baseLr * gamma^step, as torch ExponentialLR. */
    static Schedule exponential(double gamma) { return new Exponential(gamma); }

    /** Linear factor from startFactor to endFactor over totalIters steps, then endFactor, as torch LinearLR. */
    static Schedule linear(double startFactor, double endFactor, long totalIters) { return new Linear(startFactor, endFactor, totalIters); }

    /** Cosine from baseLr to etaMin over tMax steps, as torch CosineAnnealingLR (periodic after tMax like torch's). */
    static Schedule cosineAnnealing(long tMax, double etaMin) { return new CosineAnnealing(tMax, etaMin); }

    /** Cosine annealing restarted after t0, t0*tMult, t0*tMult^2, ... steps, as torch CosineAnnealingWarmRestarts. */
    static Schedule cosineWarmRestarts(long t0, long tMult, double etaMin) { return new CosineWarmRestarts(t0, tMult, etaMin); }

    /** The 1cycle policy over totalSteps with torch OneCycleLR's defaults; the group's lr is max_lr. See {@link OneCycle}. */
    static OneCycle oneCycle(long totalSteps) { return new OneCycle(totalSteps, 0.3, Anneal.COS, 25, 1e4, false); }

    /**
     * schedules.get(0) until milestones[0], then schedules.get(1) restarted from its step 0, and so on, as torch
     * SequentialLR: {@code sequential(List.of(a, b), 100)} is a for steps 0..99 and b(step - 100) from step 100.
     */
    static Schedule sequential(List<Schedule> schedules, long... milestones) { return new Sequential(schedules, milestones); }

    /**
     * Linear warm-up from startFactor * baseLr to baseLr over warmupSteps steps, then {@code after} from its step
     * 0: torch's SequentialLR([LinearLR(start_factor, total_iters=warmupSteps), after], milestones=[warmupSteps]).
     */
    static Schedule warmup(long warmupSteps, double startFactor, Schedule after) {
        return sequential(List.of(linear(startFactor, 1.0, warmupSteps), after), warmupSteps);
    }

    /** The base lr at every step. */
    record Constant() implements Schedule {
        @Override public double lr(double baseLr, long step) { return baseLr; }
    }

    /** baseLr * gamma^floor(step / stepSize), as torch.optim.lr_scheduler.StepLR. */
    record StepDecay(long stepSize, double gamma) implements Schedule {
        /** Checks the settings; an error names the setting and its value. */
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
        /** Checks the settings; an error names the setting and its value. */
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

    /** See {@link #multiStep}. milestones are sorted on construction (a copy; duplicates kept). */
    record MultiStep(double gamma, long[] milestones) implements Schedule {
        /** Checks the settings; an error names the setting and its value. */
        public MultiStep {
            Checks.nonNegative("Schedule.MultiStep", "gamma", gamma);
            Checks.finite("Schedule.MultiStep", "gamma", gamma);
            Objects.requireNonNull(milestones, "Schedule.MultiStep: milestones is null");
            milestones = milestones.clone();
            Arrays.sort(milestones);
            if (milestones.length > 0 && milestones[0] < 0)
                throw new IllegalArgumentException("Schedule.MultiStep: milestones must be >= 0, got " + Arrays.toString(milestones));
        }

        @Override public double lr(double baseLr, long step) {
            int passed = 0;
            while (passed < milestones.length && milestones[passed] <= step) passed++;
            return baseLr * Math.pow(gamma, passed);
        }

        @Override public boolean equals(Object o) { return o instanceof MultiStep m && m.gamma == gamma && Arrays.equals(m.milestones, milestones); }

        @Override public int hashCode() { return Double.hashCode(gamma) * 31 + Arrays.hashCode(milestones); }

        @Override public String toString() { return "MultiStep[gamma=" + gamma + ", milestones=" + Arrays.toString(milestones) + "]"; }
    }

    /** See {@link #exponential}. */
    record Exponential(double gamma) implements Schedule {
        /** Checks the settings; an error names the setting and its value. */
        public Exponential {
            Checks.nonNegative("Schedule.Exponential", "gamma", gamma);
            Checks.finite("Schedule.Exponential", "gamma", gamma);
        }

        @Override public double lr(double baseLr, long step) { return baseLr * Math.pow(gamma, step); }
    }

    /** See {@link #linear}: factor = startFactor + (endFactor - startFactor) * min(step, totalIters) / totalIters. */
    record Linear(double startFactor, double endFactor, long totalIters) implements Schedule {
        /** Checks the settings; an error names the setting and its value. */
        public Linear {
            // torch's LinearLR bounds: 0 < start <= 1, 0 <= end <= 1
            if (!(startFactor > 0 && startFactor <= 1))
                throw new IllegalArgumentException("Schedule.Linear: startFactor must be in (0, 1], got " + startFactor);
            Checks.inClosedUnitInterval("Schedule.Linear", "endFactor", endFactor);
            if (totalIters < 1) throw new IllegalArgumentException("Schedule.Linear: totalIters must be >= 1, got " + totalIters);
        }

        @Override public double lr(double baseLr, long step) {
            return baseLr * (startFactor + (endFactor - startFactor) * Math.min(step, totalIters) / totalIters);
        }
    }

    /** See {@link #cosineAnnealing}: etaMin + (baseLr - etaMin) * (1 + cos(pi * step / tMax)) / 2. */
    record CosineAnnealing(long tMax, double etaMin) implements Schedule {
        /** Checks the settings; an error names the setting and its value. */
        public CosineAnnealing {
            if (tMax < 1) throw new IllegalArgumentException("Schedule.CosineAnnealing: tMax must be >= 1, got " + tMax);
            Checks.nonNegative("Schedule.CosineAnnealing", "etaMin", etaMin);
            Checks.finite("Schedule.CosineAnnealing", "etaMin", etaMin);
        }

        @Override public double lr(double baseLr, long step) {
            return etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * step / tMax)) / 2;
        }
    }

    /**
     * See {@link #cosineWarmRestarts}: within a cycle of length T_i, T_cur steps in,
     * lr = etaMin + (baseLr - etaMin) * (1 + cos(pi * T_cur / T_i)) / 2; cycles last t0, t0*tMult, t0*tMult^2, ...
     */
    record CosineWarmRestarts(long t0, long tMult, double etaMin) implements Schedule {
        /** Checks the settings; an error names the setting and its value. */
        public CosineWarmRestarts {
            if (t0 < 1) throw new IllegalArgumentException("Schedule.CosineWarmRestarts: t0 must be >= 1, got " + t0);
            if (tMult < 1) throw new IllegalArgumentException("Schedule.CosineWarmRestarts: tMult must be >= 1, got " + tMult);
            Checks.nonNegative("Schedule.CosineWarmRestarts", "etaMin", etaMin);
            Checks.finite("Schedule.CosineWarmRestarts", "etaMin", etaMin);
        }

        @Override public double lr(double baseLr, long step) {
            long tCur = step, tI = t0;
            if (tMult == 1) tCur = step % t0;
            else while (tCur >= tI) { tCur -= tI; tI *= tMult; }   // at most log_tMult(step) cycles
            return etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * tCur / tI)) / 2;
        }
    }

    /** How {@link OneCycle} moves between its lrs. */
    enum Anneal {
        /** Cosine: end + (start - end) * (1 + cos(pi * pct)) / 2. */
        COS,
        /** Linear: start + (end - start) * pct. */
        LINEAR
    }

    /**
     * The 1cycle policy, as torch OneCycleLR with max_lr = baseLr (set each group's lr to its max_lr):
     * initial = baseLr / divFactor, min = initial / finalDivFactor; the lr goes initial -> max over the first
     * pctStart of totalSteps, then max -> min (or with threePhase: max -> initial symmetrically, then
     * initial -> min). Momentum is not cycled (torch's cycle_momentum=False). The lr for step totalSteps (set by
     * the scheduler's last step() call, never used by a run of totalSteps steps) is min, where torch extrapolates
     * the last phase (below 0 for LINEAR); later steps are refused like torch's ("Tried to step ...").
     */
    record OneCycle(long totalSteps, double pctStart, Anneal anneal, double divFactor, double finalDivFactor, boolean threePhase)
            implements Schedule {
        /** Checks the settings; an error names the setting and its value. */
        public OneCycle {
            if (totalSteps < 1) throw new IllegalArgumentException("Schedule.OneCycle: totalSteps must be >= 1, got " + totalSteps);
            Checks.inClosedUnitInterval("Schedule.OneCycle", "pctStart", pctStart);
            Objects.requireNonNull(anneal, "Schedule.OneCycle: anneal is null");
            if (!(divFactor > 0) || !Double.isFinite(divFactor))
                throw new IllegalArgumentException("Schedule.OneCycle: divFactor must be > 0 and finite, got " + divFactor);
            if (!(finalDivFactor > 0) || !Double.isFinite(finalDivFactor))
                throw new IllegalArgumentException("Schedule.OneCycle: finalDivFactor must be > 0 and finite, got " + finalDivFactor);
        }

        /** This schedule with pctStart (the share of steps spent rising) replaced. */
        public OneCycle withPctStart(double v) { return new OneCycle(totalSteps, v, anneal, divFactor, finalDivFactor, threePhase); }
        /** This schedule with anneal replaced. */
        public OneCycle withAnneal(Anneal v) { return new OneCycle(totalSteps, pctStart, v, divFactor, finalDivFactor, threePhase); }
        /** This schedule with divFactor (initial = max / divFactor) replaced. */
        public OneCycle withDivFactor(double v) { return new OneCycle(totalSteps, pctStart, anneal, v, finalDivFactor, threePhase); }
        /** This schedule with finalDivFactor (min = initial / finalDivFactor) replaced. */
        public OneCycle withFinalDivFactor(double v) { return new OneCycle(totalSteps, pctStart, anneal, divFactor, v, threePhase); }
        /** This schedule with threePhase replaced. */
        public OneCycle withThreePhase(boolean v) { return new OneCycle(totalSteps, pctStart, anneal, divFactor, finalDivFactor, v); }

        @Override public double lr(double baseLr, long step) {
            if (step > totalSteps)
                throw new IllegalStateException("Schedule.OneCycle: tried to step " + (step + 1) + " times; the specified number of total steps is "
                        + totalSteps);
            double initial = baseLr / divFactor, min = initial / finalDivFactor;
            // phases as torch builds them: {end step, start lr, end lr}; end steps are doubles there too
            double[][] phases = threePhase
                    ? new double[][] {{pctStart * totalSteps - 1, initial, baseLr}, {2 * pctStart * totalSteps - 2, baseLr, initial},
                                      {totalSteps - 1, initial, min}}
                    : new double[][] {{pctStart * totalSteps - 1, initial, baseLr}, {totalSteps - 1, baseLr, min}};
            if (step >= totalSteps) return min;
            double start = 0;
            for (int i = 0; ; i++) {
                double[] p = phases[i];
                if (step <= p[0] || i == phases.length - 1) {
                    double pct = (step - start) / (p[0] - start);
                    return anneal == Anneal.COS ? p[2] + (p[1] - p[2]) / 2.0 * (Math.cos(Math.PI * pct) + 1) : (p[2] - p[1]) * pct + p[1];
                }
                start = p[0];
            }
        }
    }

    /** See {@link #sequential}. */
    record Sequential(List<Schedule> schedules, long[] milestones) implements Schedule {
        /** Checks the settings; an error names the setting and its value. */
        public Sequential {
            schedules = List.copyOf(Objects.requireNonNull(schedules, "Schedule.Sequential: schedules is null"));
            Objects.requireNonNull(milestones, "Schedule.Sequential: milestones is null");
            milestones = milestones.clone();
            if (milestones.length != schedules.size() - 1)
                throw new IllegalArgumentException("Schedule.Sequential: expected " + (schedules.size() - 1) + " milestones for " + schedules.size()
                        + " schedules (one fewer), got " + milestones.length + ": " + Arrays.toString(milestones));
            for (int i = 0; i < milestones.length; i++)
                if (milestones[i] < 1 || (i > 0 && milestones[i] <= milestones[i - 1]))
                    throw new IllegalArgumentException("Schedule.Sequential: milestones must be >= 1 and increasing, got " + Arrays.toString(milestones));
        }

        @Override public double lr(double baseLr, long step) {
            int idx = 0;
            while (idx < milestones.length && milestones[idx] <= step) idx++;
            return schedules.get(idx).lr(baseLr, idx == 0 ? step : step - milestones[idx - 1]);
        }

        @Override public boolean equals(Object o) { return o instanceof Sequential q && q.schedules.equals(schedules) && Arrays.equals(q.milestones, milestones); }

        @Override public int hashCode() { return schedules.hashCode() * 31 + Arrays.hashCode(milestones); }

        @Override public String toString() { return "Sequential[schedules=" + schedules + ", milestones=" + Arrays.toString(milestones) + "]"; }
    }
}
