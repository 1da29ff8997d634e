package dev.fluxion.optim;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Schedules against torch.optim.lr_scheduler (StepLR; a warm-up + cosine written with LambdaLR), and their state dicts. */
class ScheduleTest {
    private static final JsonNode REF = Reference.load("schedules.json");

    /** Two groups with base lrs 0.1 and 0.02, as in make_reference.py's schedules(). */
    private static SGD twoGroups() {
        return new SGD(List.of(
                new ParamGroup<>(List.of(Tensor.zeros(1).requiresGrad(true)), SGD.Config.DEFAULT.withLr(0.1)),
                new ParamGroup<>(List.of(Tensor.zeros(1).requiresGrad(true)), SGD.Config.DEFAULT.withLr(0.02))));
    }

    @Test void stepDecayMatchesStepLR() { checkAgainstPyTorch("step"); }

    @Test void warmupCosineMatchesLambdaLR() { checkAgainstPyTorch("warmup_cosine"); }

    private static void checkAgainstPyTorch(String name) {
        JsonNode ref = REF.get(name);
        SGD opt = twoGroups();
        LrScheduler sched = new LrScheduler(opt, OptimizerReferenceTest.schedule(ref.get("schedule")));
        JsonNode lrs = ref.get("lrs");
        for (int k = 0; k < lrs.size(); k++) {
            for (int g = 0; g < 2; g++) {
                double expected = lrs.get(k).get(g).asDouble();
                assertEquals(expected, opt.lr(g), 1e-12 * expected, name + ": lr of group " + g + " at step " + k);
            }
            opt.step();
            sched.step();
        }
        assertEquals(lrs.size(), sched.stepCount());
    }

    @Test void constantKeepsTheBaseLr() {
        SGD opt = twoGroups();
        LrScheduler sched = new LrScheduler(opt, Schedule.constant());
        for (int k = 0; k < 5; k++) sched.step();
        assertEquals(0.1, opt.lr(0));
        assertEquals(0.02, opt.lr(1));
    }

    @Test void warmupCosineShape() {
        Schedule s = Schedule.warmupCosine(4, 12, 0.01);
        assertEquals(0.25, s.lr(1.0, 0), 1e-15);       // warm-up starts at base / warmupSteps
        assertEquals(1.0, s.lr(1.0, 3), 1e-15);        // and reaches base at its last step
        assertEquals(1.0, s.lr(1.0, 4), 1e-15);        // cosine starts at base
        assertEquals(0.505, s.lr(1.0, 8), 1e-15);      // halfway: (base + min) / 2
        assertEquals(0.01, s.lr(1.0, 12), 1e-15);      // then min
        assertEquals(0.01, s.lr(1.0, 1000), 1e-15);
        assertEquals(0.5, Schedule.warmupCosine(0, 2, 0).lr(1.0, 1), 1e-15);   // no warm-up
    }

    @Test void stateDictRoundTripContinuesTheSchedule() {
        Schedule s = Schedule.warmupCosine(3, 10, 0.001);
        SGD a = twoGroups();
        LrScheduler sa = new LrScheduler(a, s);
        for (int k = 0; k < 5; k++) sa.step();
        Map<String, Tensor> saved = sa.stateDict();
        assertEquals(5, saved.get("step").toLongArray()[0]);
        assertEquals(DType.INT64, saved.get("step").dtype());
        assertEquals(DType.FLOAT64, saved.get("base_lr.1").dtype());
        assertEquals(0.02, saved.get("base_lr.1").item());

        SGD b = new SGD(List.of(                            // other lrs: the base lrs must come from the state dict
                new ParamGroup<>(List.of(Tensor.zeros(1).requiresGrad(true)), SGD.Config.DEFAULT.withLr(0.5)),
                new ParamGroup<>(List.of(Tensor.zeros(1).requiresGrad(true)), SGD.Config.DEFAULT.withLr(0.5))));
        LrScheduler sb = new LrScheduler(b, s);
        sb.loadStateDict(saved);
        for (int k = 0; k < 8; k++) {
            assertEquals(a.lr(0), b.lr(0), 0);
            assertEquals(a.lr(1), b.lr(1), 0);
            sa.step();
            sb.step();
        }
    }

    @Test void loadStateDictRefusesAMismatchAndChangesNothing() {
        SGD opt = twoGroups();
        LrScheduler sched = new LrScheduler(opt, Schedule.stepDecay(2, 0.5));
        sched.step();
        sched.step();
        Map<String, Tensor> bad = new HashMap<>(sched.stateDict());
        bad.remove("base_lr.1");
        var e = assertThrows(IllegalArgumentException.class, () -> sched.loadStateDict(bad));
        assertEquals("LrScheduler.loadStateDict: entries [base_lr.0, step] do not match the expected [base_lr.0, base_lr.1, step]"
                + " (an optimizer with 2 groups)", e.getMessage());
        Map<String, Tensor> wrongType = new HashMap<>(sched.stateDict());
        wrongType.put("step", Tensor.scalar(7, DType.FLOAT32));
        e = assertThrows(IllegalArgumentException.class, () -> sched.loadStateDict(wrongType));
        assertEquals("LrScheduler.loadStateDict: step must be a 0-dim int64 tensor, got float32 of shape []", e.getMessage());
        assertEquals(2, sched.stepCount());
        assertEquals(0.05, opt.lr(0), 0);
    }

    @Test void badSettingsAreRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> Schedule.stepDecay(0, 0.5));
        assertEquals("Schedule.StepDecay: stepSize must be >= 1, got 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Schedule.stepDecay(10, -0.5));
        assertEquals("Schedule.StepDecay: gamma must be >= 0, got -0.5", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Schedule.warmupCosine(10, 5, 0));
        assertEquals("Schedule.WarmupCosine: totalSteps must be >= warmupSteps, got totalSteps 5 and warmupSteps 10", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Schedule.warmupCosine(-1, 5, 0));
        assertEquals("Schedule.WarmupCosine: warmupSteps must be >= 0, got -1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Schedule.warmupCosine(1, 5, -1e-3));
        assertEquals("Schedule.WarmupCosine: minLr must be >= 0, got -0.001", e.getMessage());
    }

    /** Schedule is a functional interface: a user's lambda and a user's class both drive an LrScheduler. */
    @Test void usersWriteTheirOwnSchedules() {
        Schedule inverseSqrt = (baseLr, step) -> baseLr / Math.sqrt(1 + step);
        SGD opt = twoGroups();
        LrScheduler sched = new LrScheduler(opt, inverseSqrt);
        for (int k = 0; k < 3; k++) sched.step();
        assertEquals(0.1 / 2, opt.lr(0), 1e-15);
        assertEquals(0.02 / 2, opt.lr(1), 1e-15);

        final class Halving implements Schedule {
            @Override public double lr(double baseLr, long step) { return step < 2 ? baseLr : baseLr / 2; }
        }
        SGD other = twoGroups();
        LrScheduler byClass = new LrScheduler(other, new Halving());
        assertEquals(0.1, other.lr(0));
        byClass.step();
        byClass.step();
        assertEquals(0.05, other.lr(0));
    }

    @Test void oneCycleEndsAtItsMinimumAndTheNewSettingsAreChecked() {
        assertEquals(0.1 / 25 / 1e4, Schedule.oneCycle(10).withAnneal(Schedule.Anneal.LINEAR).lr(0.1, 10), 1e-18);
        var e = assertThrows(IllegalArgumentException.class, () -> Schedule.oneCycle(10).withPctStart(1.5));
        assertEquals("Schedule.OneCycle: pctStart must be in [0, 1], got 1.5", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Schedule.multiStep(0.1, 5, -1));
        assertEquals("Schedule.MultiStep: milestones must be >= 0, got [-1, 5]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Schedule.sequential(List.of(Schedule.constant(), Schedule.constant())));
        assertEquals("Schedule.Sequential: expected 1 milestones for 2 schedules (one fewer), got 0: []", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Schedule.linear(0, 1, 5));
        assertEquals("Schedule.Linear: startFactor must be in (0, 1], got 0.0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Schedule.cosineWarmRestarts(0, 1, 0));
        assertEquals("Schedule.CosineWarmRestarts: t0 must be >= 1, got 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ReduceLROnPlateau.Config.DEFAULT.withFactor(1.0));
        assertEquals("ReduceLROnPlateau.Config: factor must be in [0, 1), got 1.0", e.getMessage());
    }

    @Test void plateauStateDictRoundTripContinuesTheSameWay() {
        var config = ReduceLROnPlateau.Config.DEFAULT.withPatience(1).withFactor(0.5).withCooldown(1);
        double[] metrics = {1, 0.5, 0.6, 0.7, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4};
        SGD a = twoGroups(), b = twoGroups();
        var pa = new ReduceLROnPlateau(a, config);
        for (int k = 0; k < 3; k++) pa.step(metrics[k]);
        var pb = new ReduceLROnPlateau(b, config);
        pb.loadStateDict(pa.stateDict());
        assertEquals(0.5, pb.best());
        assertEquals(1, pb.badSteps());
        for (int k = 3; k < metrics.length; k++) {
            boolean lowered = pa.step(metrics[k]);
            assertEquals(lowered, pb.step(metrics[k]), "step " + k);
            if (lowered) b.setLr(0, a.lr(0));   // b's optimizer lrs are not in the plateau state; keep them in step
            if (lowered) b.setLr(1, a.lr(1));
        }
        assertEquals(pa.stateDict().keySet(), pb.stateDict().keySet());
        assertEquals(pa.cooldownLeft(), pb.cooldownLeft());
        assertEquals(0.0125, a.lr(0), 1e-15);   // lowered at k = 3 (0.6, 0.7 after 0.5), k = 6 and k = 9 (0.4 twice more after a cooldown)
    }
}
