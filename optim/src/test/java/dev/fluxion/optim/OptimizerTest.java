package dev.fluxion.optim;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What every optimizer does besides its formula: groups, zeroGrad, skipped parameters, lifetimes, bad parameter lists. */
class OptimizerTest {

    /** A subclass of Tensor, as nn.Parameter will be. */
    static final class Param extends Tensor {
        Param(Tensor t) { super(t); requiresGrad(true); }
    }

    @Test void zeroGradSetsGradientsToNull() {
        Tensor w = Tensor.ones(3).requiresGrad(true);
        SGD opt = new SGD(List.of(w), SGD.Config.DEFAULT);
        w.mul(w).sum().backward();
        opt.zeroGrad();
        assertNull(w.grad());
    }

    /** zeroGrad frees the old gradient: reading it afterwards must fail, not return what reused its memory. */
    @Test void aGradientReadAfterZeroGradThrows() {
        Tensor w = Tensor.ones(3).requiresGrad(true);
        SGD opt = new SGD(List.of(w), SGD.Config.DEFAULT);
        w.mul(w).sum().backward();
        Tensor g = w.grad();
        opt.zeroGrad();
        Tensor other = Tensor.full(7, 3);                   // may take the freed gradient's buffer
        var e = assertThrows(IllegalStateException.class, () -> g.sum().item());
        assertTrue(e.getMessage().contains("[3] float32") && e.getMessage().contains("SGD.zeroGrad()"), e.getMessage());
        assertEquals(21, other.sum().item());
    }

    @Test void parametersWithoutGradientsAreNotTouched() {
        Tensor a = Tensor.ones(2).requiresGrad(true), b = Tensor.ones(2).requiresGrad(true);
        Adam opt = new Adam(List.of(a, b), Adam.Config.DEFAULT.withLr(0.1));
        a.setGrad(Tensor.of(1f, -1f));
        opt.step();
        assertArrayEquals(new float[] {0.9f, 1.1f}, a.toFloatArray(), 1e-6f);
        assertArrayEquals(new float[] {1f, 1f}, b.toFloatArray());
        Map<String, Tensor> sd = opt.stateDict();
        assertTrue(sd.containsKey("state.0.step"));
        assertFalse(sd.keySet().stream().anyMatch(k -> k.startsWith("state.1.")));
    }

    @Test void acceptsTensorSubclasses() {
        List<Param> ps = List.of(new Param(Tensor.ones(2)), new Param(Tensor.zeros(3)));
        SGD opt = new SGD(ps, SGD.Config.DEFAULT.withLr(0.5));
        ps.get(0).setGrad(Tensor.ones(2));
        opt.step();
        assertArrayEquals(new float[] {0.5f, 0.5f}, ps.get(0).toFloatArray());
    }

    @SuppressWarnings("try")   // scopes used only for what closing them does
    @Test void stateOutlivesTheStepScopeAndTemporariesDoNot() {
        Tensor w = Tensor.ones(4).requiresGrad(true);
        SGD opt = new SGD(List.of(w), SGD.Config.DEFAULT.withLr(0.1).withMomentum(0.9));
        for (int k = 0; k < 3; k++) {
            opt.zeroGrad();
            try (var scope = Scope.open()) {
                w.mul(w).sum().backward();
                opt.step();
            }
        }
        // g = 2w. buf = 2, w = 0.8; buf = 0.9 * 2 + 1.6 = 3.4, w = 0.46; buf = 0.9 * 3.4 + 0.92 = 3.98, w = 0.062
        assertEquals(0.062, w.toFloatArray()[0], 1e-6);
        assertEquals(3.98, opt.stateDict().get("state.0.momentum_buffer").toFloatArray()[0], 1e-5);
    }

    @Test void groupsHaveTheirOwnSettingsAndLr() {
        Tensor a = Tensor.ones(1).requiresGrad(true), b = Tensor.ones(1).requiresGrad(true);
        SGD opt = new SGD(List.of(new ParamGroup<>(List.of(a), SGD.Config.DEFAULT.withLr(0.1)),
                new ParamGroup<>(List.of(b), SGD.Config.DEFAULT.withLr(0.2).withWeightDecay(1))));
        a.setGrad(Tensor.ones(1));
        b.setGrad(Tensor.ones(1));
        opt.step();
        assertEquals(0.9f, a.toFloatArray()[0]);
        assertEquals(0.6f, b.toFloatArray()[0], 1e-7f);                   // 1 - 0.2 * (1 + 1 * 1)
        opt.setLr(1, 0.05);
        assertEquals(SGD.Config.DEFAULT.withLr(0.05).withWeightDecay(1), opt.config(1));
        assertEquals(List.of(b), opt.params(1));
        assertEquals(List.of(a, b), opt.params());
        var e = assertThrows(IndexOutOfBoundsException.class, () -> opt.lr(2));
        assertEquals("SGD: group 2 does not exist; there are 2", e.getMessage());
    }

    @Test void stepWorksWhileGradientsAreRecorded() {
        Tensor w = Tensor.ones(2).requiresGrad(true);
        Tensor loss = w.mul(w).sum();
        loss.backward();
        new AdamW(List.of(w), AdamW.Config.DEFAULT).step();     // no noGrad around it: the optimizer opens its own
        assertTrue(w.isLeaf());
        assertNull(w.gradFn());
    }

    @Test void float64ParametersStayFloat64() {
        Tensor w = Tensor.ones(DType.FLOAT64, 3).requiresGrad(true);
        RMSProp opt = new RMSProp(List.of(w), RMSProp.Config.DEFAULT.withCentered(true).withMomentum(0.9));
        w.setGrad(Tensor.full(0.5, DType.FLOAT64, w.device(), 3));
        opt.step();
        assertEquals(DType.FLOAT64, w.dtype());
        assertEquals(DType.FLOAT64, opt.stateDict().get("state.0.grad_avg").dtype());
        // square_avg = 0.0025, grad_avg = 0.005: avg = sqrt(0.0025 - 0.000025) + 1e-8; buf = 0.5 / avg; w = 1 - 0.01 * buf
        double expected = 1 - 0.01 * (0.5 / (Math.sqrt(0.0025 - 0.000025) + 1e-8));
        assertEquals(expected, w.toDoubleArray()[0], 1e-15);
    }

    @Test void buffersNeededByChangedSettingsStartFresh() {
        Tensor w = Tensor.ones(3).requiresGrad(true);
        Adam adam = new Adam(List.of(w), Adam.Config.DEFAULT);
        w.setGrad(Tensor.of(1f, 2f, 3f));
        adam.step();
        adam.setConfig(0, adam.config(0).withAmsgrad(true));             // max_exp_avg_sq starts at exp_avg_sq
        adam.step();
        Map<String, Tensor> sd = adam.stateDict();
        assertArrayEquals(sd.get("state.0.exp_avg_sq").toFloatArray(), sd.get("state.0.max_exp_avg_sq").toFloatArray());

        RMSProp rms = new RMSProp(List.of(w), RMSProp.Config.DEFAULT);
        rms.step();
        rms.setConfig(0, rms.config(0).withMomentum(0.9).withCentered(true));   // momentum_buffer and grad_avg start at zero
        rms.step();
        assertEquals(List.of("state.0.step", "state.0.square_avg", "state.0.grad_avg", "state.0.momentum_buffer"),
                rms.stateDict().keySet().stream().filter(k -> k.startsWith("state.")).toList());
    }

    @Test void badParameterListsAreRefused() {
        Tensor w = Tensor.ones(2).requiresGrad(true);
        var e = assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(w, w), SGD.Config.DEFAULT));
        assertEquals("SGD: parameter 1 is the same tensor as parameter 0; a parameter may appear only once across all groups", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Adam(List.of(), Adam.Config.DEFAULT));
        assertEquals("Adam: got an empty parameter list", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(w.mul(2)), SGD.Config.DEFAULT));
        assertEquals("SGD: parameter 0 is not a leaf (it is the output of an op); optimize the tensor it was computed from", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(Tensor.arange(3)), SGD.Config.DEFAULT));
        assertEquals("SGD: parameter 0 has dtype int64; only floating-point tensors can be optimized", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SGD(List.of()));
        assertEquals("SGD: no parameter groups", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SGD(java.util.Arrays.asList(w, null), SGD.Config.DEFAULT));
        assertEquals("ParamGroup: parameter 1 is null", e.getMessage());
    }

    /**
     * A sharded optimizer as stepGroup's contract allows it: this "rank" owns the first half of every parameter
     * and steps only that slice (plain SGD), keeping its own state. One call per group, with only the
     * parameters that have a gradient and their states (null before the first update).
     */
    static final class FirstHalf extends Optimizer<SGD.Config, FirstHalf.State> {
        record State(long step) {}

        final List<Integer> sizes = new java.util.ArrayList<>();
        final List<List<State>> seen = new java.util.ArrayList<>();

        FirstHalf(List<ParamGroup<SGD.Config>> groups) { super(groups, SGD.Config.class, State.class); }

        @Override protected State init(Tensor param, SGD.Config c) { return new State(0); }

        @Override protected State update(Tensor param, Tensor grad, State s, SGD.Config c) {
            throw new AssertionError("stepGroup is overridden: update is not called");
        }

        @Override protected List<State> stepGroup(GroupStep<SGD.Config, State> group) {
            sizes.add(group.size());
            seen.add(group.states());
            List<State> next = new java.util.ArrayList<>();
            for (int k = 0; k < group.size(); k++) {
                Tensor p = group.params().get(k), half = p.narrow(0, 0, p.size(0) / 2);
                half.copy_(half.sub(group.grads().get(k).narrow(0, 0, p.size(0) / 2).mul(group.config().lr())));
                State s = group.states().get(k);
                next.add(new State(s == null ? 1 : s.step() + 1));
            }
            return next;
        }
    }

    @Test void aGroupStepOverrideSeesEachGroupWhole() {
        Tensor a = Tensor.ones(4).requiresGrad(true), b = Tensor.ones(2).requiresGrad(true), c = Tensor.ones(6).requiresGrad(true);
        var opt = new FirstHalf(List.of(new ParamGroup<>(List.of(a, b), SGD.Config.DEFAULT.withLr(0.5)),
                new ParamGroup<>(List.of(c), SGD.Config.DEFAULT.withLr(0.25))));
        a.setGrad(Tensor.ones(4));
        c.setGrad(Tensor.ones(6));
        opt.step();                                              // b has no gradient: not in its group's step
        assertEquals(List.of(1, 1), opt.sizes);
        assertNull(opt.seen.get(0).get(0), "no state before the first update");
        b.setGrad(Tensor.ones(2));
        opt.step();
        assertEquals(List.of(1, 1, 2, 1), opt.sizes);
        assertEquals(new FirstHalf.State(1), opt.seen.get(2).get(0));
        assertArrayEquals(new float[] {0f, 0f, 1f, 1f}, a.toFloatArray());
        assertArrayEquals(new float[] {0.5f, 1f}, b.toFloatArray());
        assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f, 1f, 1f, 1f}, c.toFloatArray());
        Map<String, Tensor> sd = opt.stateDict();
        assertArrayEquals(new long[] {2, 1, 2}, new long[] {sd.get("state.0.step").toLongArray()[0],
                sd.get("state.1.step").toLongArray()[0], sd.get("state.2.step").toLongArray()[0]});
    }
}
