package dev.fluxion.optim;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Optimizer (and schedule) state dicts: 10 steps, save, a fresh optimizer built with other settings over
 * fresh copies of the parameters, load, 10 more steps: bitwise equal to 20 uninterrupted steps. Also the
 * format, and that a bad state dict is refused without changing anything.
 */
class StateDictTest {

    /** Builds an optimizer over [W, b, c]; "fresh" ones get DEFAULT settings, which the state dict must override. */
    private interface Make { Optimizer<?, ?> make(List<Tensor> params, boolean fresh); }

    @Test void sgdNesterovRoundTrip() {
        roundTrip((ps, fresh) -> new SGD(ps, fresh ? SGD.Config.DEFAULT
                : SGD.Config.DEFAULT.withLr(0.05).withMomentum(0.9).withNesterov(true).withWeightDecay(0.01)), null);
    }

    @Test void sgdTwoGroupsWithScheduleRoundTrip() {
        roundTrip((ps, fresh) -> {
            var cfg = fresh ? SGD.Config.DEFAULT : SGD.Config.DEFAULT.withLr(0.05).withMomentum(0.9).withDampening(0.2);
            return new SGD(List.of(new ParamGroup<>(ps.subList(0, 2), cfg), new ParamGroup<>(ps.subList(2, 3), cfg.withLr(0.02))));
        }, Schedule.stepDecay(4, 0.5));
    }

    @Test void adagradRoundTrip() {
        roundTrip((ps, fresh) -> new AdaGrad(ps, fresh ? AdaGrad.Config.DEFAULT
                : AdaGrad.Config.DEFAULT.withLr(0.1).withLrDecay(0.01).withInitialAccumulatorValue(0.1)), null);
    }

    @Test void rmspropCenteredMomentumRoundTrip() {
        roundTrip((ps, fresh) -> new RMSProp(ps, fresh ? RMSProp.Config.DEFAULT
                : RMSProp.Config.DEFAULT.withLr(0.01).withCentered(true).withMomentum(0.9).withWeightDecay(0.01)), null);
    }

    @Test void adamAmsgradWithScheduleRoundTrip() {
        roundTrip((ps, fresh) -> new Adam(ps, fresh ? Adam.Config.DEFAULT
                : Adam.Config.DEFAULT.withLr(0.02).withAmsgrad(true).withWeightDecay(0.01)), Schedule.warmupCosine(5, 20, 1e-3));
    }

    @Test void adamwAmsgradRoundTrip() {
        roundTrip((ps, fresh) -> new AdamW(ps, fresh ? AdamW.Config.DEFAULT
                : AdamW.Config.DEFAULT.withLr(0.02).withBetas(0.9, 0.95).withAmsgrad(true).withWeightDecay(0.1)), null);
    }

    private static void roundTrip(Make make, Schedule schedule) {
        // uninterrupted: 20 steps
        List<Tensor> a = params(Reference.freshParams());
        Optimizer<?, ?> optA = make.make(a, false);
        LrScheduler schedA = schedule == null ? null : new LrScheduler(optA, schedule);
        steps(a, optA, schedA, 20);

        // interrupted after 10: save, then fresh parameters (the saved values), optimizer and schedule
        List<Tensor> b = params(Reference.freshParams());
        Optimizer<?, ?> optB = make.make(b, false);
        LrScheduler schedB = schedule == null ? null : new LrScheduler(optB, schedule);
        steps(b, optB, schedB, 10);
        Map<String, Tensor> saved = optB.stateDict();
        Map<String, Tensor> savedSchedule = schedB == null ? null : schedB.stateDict();

        List<Tensor> c = new ArrayList<>();
        for (Tensor p : b) c.add(p.detach().copy().requiresGrad(true));   // as if reloaded from a checkpoint
        Optimizer<?, ?> optC = make.make(c, true);
        optC.loadStateDict(saved);
        LrScheduler schedC = null;
        if (schedule != null) {
            schedC = new LrScheduler(optC, schedule);
            schedC.loadStateDict(savedSchedule);
        }
        for (Tensor t : saved.values()) t.close();         // the optimizer keeps copies
        steps(c, optC, schedC, 10);

        for (int i = 0; i < a.size(); i++)
            assertArrayEquals(a.get(i).toFloatArray(), c.get(i).toFloatArray(), "parameter " + i + " after 20 steps");
        assertBitwiseEqual(optA.stateDict(), optC.stateDict());
    }

    private static List<Tensor> params(Map<String, Tensor> p) { return List.of(p.get("W"), p.get("b"), p.get("c")); }

    @SuppressWarnings("try")   // scopes used only for what closing them does
    private static void steps(List<Tensor> ps, Optimizer<?, ?> opt, LrScheduler sched, int n) {
        Map<String, Tensor> p = Map.of("W", ps.get(0), "b", ps.get(1), "c", ps.get(2));
        for (int k = 0; k < n; k++) {
            opt.zeroGrad();
            try (var scope = Scope.open()) {
                Reference.loss(p).backward();
                opt.step();
                if (sched != null) sched.step();
            }
        }
    }

    private static void assertBitwiseEqual(Map<String, Tensor> expected, Map<String, Tensor> actual) {
        assertEquals(new TreeSet<>(expected.keySet()), new TreeSet<>(actual.keySet()), "state dict keys");
        for (String k : expected.keySet()) {
            assertEquals(expected.get(k).dtype(), actual.get(k).dtype(), k);
            assertArrayEquals(expected.get(k).shape(), actual.get(k).shape(), k);
            assertArrayEquals(expected.get(k).toDoubleArray(), actual.get(k).toDoubleArray(), k);
        }
    }

    // ---------------------------------------------------------------- format

    @Test void adamStateDictFormat() {
        Map<String, Tensor> p = Reference.freshParams();
        Adam opt = new Adam(params(p), Adam.Config.DEFAULT.withAmsgrad(true));
        p.get("c").setGrad(Tensor.onesLike(p.get("c")));   // only c has a gradient: only parameter 2 gets state
        opt.step();
        Map<String, Tensor> sd = opt.stateDict();
        assertEquals(List.of("group.0.params", "group.0.lr", "group.0.beta1", "group.0.beta2", "group.0.eps", "group.0.weight_decay",
                "group.0.amsgrad", "state.2.step", "state.2.exp_avg", "state.2.exp_avg_sq", "state.2.max_exp_avg_sq"), List.copyOf(sd.keySet()));
        assertArrayEquals(new long[] {0, 1, 2}, sd.get("group.0.params").toLongArray());
        assertEquals(DType.INT64, sd.get("group.0.params").dtype());
        for (String k : List.of("group.0.lr", "group.0.beta1", "group.0.beta2", "group.0.eps", "group.0.weight_decay")) {
            assertEquals(DType.FLOAT64, sd.get(k).dtype(), k);
            assertEquals(0, sd.get(k).dim(), k);
        }
        assertEquals(1e-3, sd.get("group.0.lr").item());
        assertEquals(DType.BOOL, sd.get("group.0.amsgrad").dtype());
        assertEquals(1.0, sd.get("group.0.amsgrad").item());
        assertEquals(DType.INT64, sd.get("state.2.step").dtype());
        assertEquals(0, sd.get("state.2.step").dim());
        assertEquals(1, sd.get("state.2.step").toLongArray()[0]);
        assertArrayEquals(new int[] {6}, sd.get("state.2.exp_avg").shape());
        assertEquals(DType.FLOAT32, sd.get("state.2.exp_avg").dtype());
    }

    @Test void stateDictIsASnapshot() {
        Map<String, Tensor> p = Reference.freshParams();
        SGD opt = new SGD(params(p), SGD.Config.DEFAULT.withMomentum(0.9));
        oneStep(p, opt);
        Map<String, Tensor> sd = opt.stateDict();
        float[] before = sd.get("state.0.momentum_buffer").toFloatArray();
        oneStep(p, opt);
        assertArrayEquals(before, sd.get("state.0.momentum_buffer").toFloatArray());
    }

    @Test void twoGroupsAreNumberedAcrossGroups() {
        Map<String, Tensor> p = Reference.freshParams();
        SGD opt = new SGD(List.of(new ParamGroup<>(List.of(p.get("W")), SGD.Config.DEFAULT.withMomentum(0.5)),
                new ParamGroup<>(List.of(p.get("b"), p.get("c")), SGD.Config.DEFAULT.withMomentum(0.9).withLr(0.1))));
        oneStep(p, opt);
        Map<String, Tensor> sd = opt.stateDict();
        assertArrayEquals(new long[] {0}, sd.get("group.0.params").toLongArray());
        assertArrayEquals(new long[] {1, 2}, sd.get("group.1.params").toLongArray());
        assertEquals(0.5, sd.get("group.0.momentum").item());
        assertEquals(0.1, sd.get("group.1.lr").item());
        assertArrayEquals(new int[] {6}, sd.get("state.2.momentum_buffer").shape());
    }

    // ---------------------------------------------------------------- refusing bad state dicts

    @Test void badStateDictsAreRefusedAndChangeNothing() {
        Map<String, Tensor> p = Reference.freshParams();
        Adam opt = new Adam(params(p), Adam.Config.DEFAULT.withLr(0.01));
        oneStep(p, opt);
        Map<String, Tensor> good = opt.stateDict();

        assertRefused(opt, good, d -> { d.remove("state.1.step"); return d; }, "Adam.loadStateDict: missing entry state.1.step");
        assertRefused(opt, good, d -> { d.put("state.2.exp_avg", Tensor.zeros(5)); return d; },
                "Adam.loadStateDict: state.2.exp_avg has shape [5] and dtype float32, expected shape [6] and dtype float32 (those of its parameter)");
        assertRefused(opt, good, d -> { d.put("state.2.exp_avg", Tensor.zeros(DType.FLOAT64, 6)); return d; },
                "Adam.loadStateDict: state.2.exp_avg has shape [6] and dtype float64, expected shape [6] and dtype float32 (those of its parameter)");
        assertRefused(opt, good, d -> { d.put("group.0.lr", Tensor.scalar(-1, DType.FLOAT64)); return d; },
                "Adam.loadStateDict: entries under group.0. are invalid: Adam.Config: lr must be >= 0, got -1.0");
        assertRefused(opt, good, d -> { d.put("group.0.lr", Tensor.scalar(0.1)); return d; },
                "Adam.loadStateDict: group.0.lr must be a 0-dim float64 tensor, got float32 of shape []");
        assertRefused(opt, good, d -> { d.put("state.0.momentum_buffer", Tensor.zeros(4, 3)); return d; },
                "Adam.loadStateDict: unexpected entries [state.0.momentum_buffer] (a state dict of another optimizer, or of other parameters?)");
        assertRefused(opt, good, d -> { d.put("state.9.step", Tensor.scalar(1, DType.INT64)); return d; },
                "Adam.loadStateDict: unexpected entries [state.9.step] (a state dict of another optimizer, or of other parameters?)");
        assertRefused(opt, good, d -> { d.put("group.0.amsgrad", Tensor.scalar(1, DType.BOOL)); return d; },
                "Adam.loadStateDict: parameter 0: amsgrad, but max_exp_avg_sq is missing");
        assertRefused(opt, good, d -> { d.put("group.0.params", Tensor.of(new long[] {0, 1}, 2)); return d; },
                "Adam.loadStateDict: group.0.params is int64 [2] [0, 1], expected int64 [0, 1, 2]: the groups differ from this optimizer's");

        SGD sgd = new SGD(params(p), SGD.Config.DEFAULT);
        var e = assertThrows(IllegalArgumentException.class, () -> sgd.loadStateDict(good));
        assertEquals("SGD.loadStateDict: missing entry group.0.momentum", e.getMessage());
    }

    private static void assertRefused(Optimizer<?, ?> opt, Map<String, Tensor> good, Function<Map<String, Tensor>, Map<String, Tensor>> corrupt,
                                      String message) {
        Map<String, Tensor> before = opt.stateDict();
        var e = assertThrows(IllegalArgumentException.class, () -> opt.loadStateDict(corrupt.apply(new LinkedHashMap<>(good))));
        assertEquals(message, e.getMessage());
        assertBitwiseEqual(before, opt.stateDict());
    }

    @SuppressWarnings("try")   // scopes used only for what closing them does
    private static void oneStep(Map<String, Tensor> p, Optimizer<?, ?> opt) {
        opt.zeroGrad();
        try (var scope = Scope.open()) {
            Reference.loss(p).backward();
            opt.step();
        }
    }

}
