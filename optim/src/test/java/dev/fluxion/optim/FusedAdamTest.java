package dev.fluxion.optim;

import dev.fluxion.tensor.AdamHyper;
import dev.fluxion.tensor.AdamUpdate;
import dev.fluxion.tensor.FusedKernels;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Backends;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CPU backend's fused Adam/AdamW kernel (used for contiguous float32 parameters, a whole group per call)
 * gives the same bits as the op-by-op reference: per parameter, and through the group step with parameters
 * of several sizes, skipped ones, non-contiguous ones the kernel refuses, and amsgrad switched on midway.
 */
class FusedAdamTest {

    /** Adam with the base class's stepGroup: {@code update}, the op path, once per parameter. */
    static final class OpPath<C extends Record & OptimizerConfig<C>> extends Optimizer<C, Adam.State> {
        private final Function<C, AdamHyper> hyper;

        OpPath(List<Tensor> params, C config, Class<C> type, Function<C, AdamHyper> hyper) {
            super(List.of(ParamGroup.of(params, config)), type, Adam.State.class);
            this.hyper = hyper;
        }

        @Override protected Adam.State init(Tensor param, C c) { return AdamStep.init(param, hyper.apply(c)); }

        @Override protected Adam.State update(Tensor param, Tensor grad, Adam.State s, C c) {
            return AdamStep.reference(hyper.apply(c), param, grad, s);
        }
    }

    private static void compare(Function<List<Tensor>, Optimizer<?, ?>> make) {
        var g = new Generator(8);
        Tensor init = Tensor.randn(g, 37, 53);                   // not a multiple of the vector width
        Tensor fusedP = init.copy().requiresGrad(true);
        Tensor opsP = init.t().copy().t().requiresGrad(true);     // same values, column-major: no fused kernel
        Optimizer<?, ?> fused = make.apply(List.of(fusedP)), ops = make.apply(List.of(opsP));
        for (int step = 0; step < 5; step++) {
            Tensor grad = Tensor.randn(g, 37, 53);
            fusedP.setGrad(grad);
            opsP.setGrad(grad.t().copy().t());
            fused.step();
            ops.step();
        }
        assertArrayEquals(opsP.toFloatArray(), fusedP.toFloatArray(), 0f);
    }

    @Test
    void adamFusedEqualsOps() {
        compare(p -> new Adam(p, Adam.Config.DEFAULT.withLr(1e-2).withWeightDecay(0.1)));
        compare(p -> new Adam(p, Adam.Config.DEFAULT.withLr(1e-2).withAmsgrad(true)));
    }

    @Test
    void adamWFusedEqualsOps() {
        compare(p -> new AdamW(p, AdamW.Config.DEFAULT.withLr(1e-2)));
        compare(p -> new AdamW(p, AdamW.Config.DEFAULT.withLr(1e-2).withAmsgrad(true).withWeightDecay(0)));
    }

    // ---------------------------------------------------------------- the group step

    private static final int[][] SHAPES = {{1}, {7}, {37, 53}, {4099}, {3, 5, 11}, {20_000}};
    private static final int SKIPPED = 3;                        // this parameter has no gradient at steps 0 and 3

    /**
     * Runs the group step of {@code fused} and the per-parameter op path of {@code ops} over the same parameters
     * and gradients; with {@code strided}, parameter 1 of the fused optimizer is column-major (refused by the
     * kernel, so the batch falls back to one parameter at a time). amsgradAt: the step before which setConfig
     * switches amsgrad on (-1: never).
     */
    private static <C extends Record & OptimizerConfig<C>> void compareGroups(
            Function<List<Tensor>, Optimizer<C, Adam.State>> fusedMake, Function<List<Tensor>, Optimizer<C, Adam.State>> opsMake,
            boolean strided, int amsgradAt, Function<C, C> amsgradOn) {
        var g = new Generator(9);
        List<Tensor> fusedPs = new ArrayList<>(), opsPs = new ArrayList<>(), before = new ArrayList<>();
        for (int[] shape : SHAPES) {
            Tensor init = Tensor.randn(g, shape);
            before.add(init);
            opsPs.add(init.copy().requiresGrad(true));
            fusedPs.add(strided && shape.length == 2 ? init.t().copy().t().requiresGrad(true) : init.copy().requiresGrad(true));
        }
        Optimizer<C, Adam.State> fused = fusedMake.apply(fusedPs), ops = opsMake.apply(opsPs);
        for (int step = 0; step < 6; step++) {
            if (step == amsgradAt) {
                fused.setConfig(0, amsgradOn.apply(fused.config(0)));
                ops.setConfig(0, amsgradOn.apply(ops.config(0)));
            }
            fused.zeroGrad();
            ops.zeroGrad();
            for (int k = 0; k < SHAPES.length; k++) {
                if (k == SKIPPED && (step == 0 || step == 3)) continue;
                Tensor grad = Tensor.randn(g, SHAPES[k]);
                fusedPs.get(k).setGrad(grad);
                opsPs.get(k).setGrad(grad.copy());
            }
            fused.step();
            ops.step();
            if (step == 0) assertArrayEquals(before.get(SKIPPED).toFloatArray(), fusedPs.get(SKIPPED).toFloatArray(), 0f, "a parameter without gradient is not stepped");
        }
        for (int k = 0; k < SHAPES.length; k++) {
            assertArrayEquals(opsPs.get(k).toFloatArray(), fusedPs.get(k).toFloatArray(), 0f, "parameter " + k);
            assertFalse(java.util.Arrays.equals(before.get(k).toFloatArray(), fusedPs.get(k).toFloatArray()), "parameter " + k + " moved");
        }
        Map<String, Tensor> fs = fused.stateDict(), os = ops.stateDict();
        assertEquals(os.keySet(), fs.keySet());
        for (String key : os.keySet()) {
            if (os.get(key).dtype().isFloatingPoint()) assertArrayEquals(os.get(key).toDoubleArray(), fs.get(key).toDoubleArray(), 0, key);
            else assertArrayEquals(os.get(key).toLongArray(), fs.get(key).toLongArray(), key);
        }
        assertEquals(6 - 2, fs.get("state." + SKIPPED + ".step").toLongArray()[0], "the skipped parameter counts its own steps");
    }

    private static void adamGroups(Adam.Config c, boolean strided, int amsgradAt) {
        compareGroups(ps -> new Adam(ps, c), ps -> new OpPath<>(ps, c, Adam.Config.class, Adam.Config::hyper),
                strided, amsgradAt, x -> x.withAmsgrad(true));
    }

    private static void adamWGroups(AdamW.Config c, boolean strided, int amsgradAt) {
        compareGroups(ps -> new AdamW(ps, c), ps -> new OpPath<>(ps, c, AdamW.Config.class, AdamW.Config::hyper),
                strided, amsgradAt, x -> x.withAmsgrad(true));
    }

    @Test
    void adamGroupStepEqualsOpPath() {
        for (boolean strided : new boolean[] {false, true}) {
            adamGroups(Adam.Config.DEFAULT.withLr(1e-2), strided, -1);
            adamGroups(Adam.Config.DEFAULT.withLr(1e-2).withWeightDecay(0.1), strided, -1);
            adamGroups(Adam.Config.DEFAULT.withLr(1e-2).withWeightDecay(0.1).withAmsgrad(true), strided, -1);
            adamGroups(Adam.Config.DEFAULT.withLr(1e-2).withBetas(0.8, 0.95), strided, 2);
        }
    }

    @Test
    void adamWGroupStepEqualsOpPath() {
        for (boolean strided : new boolean[] {false, true}) {
            adamWGroups(AdamW.Config.DEFAULT.withLr(1e-2), strided, -1);
            adamWGroups(AdamW.Config.DEFAULT.withLr(1e-2).withWeightDecay(0), strided, -1);
            adamWGroups(AdamW.Config.DEFAULT.withLr(1e-2).withWeightDecay(0.1).withAmsgrad(true), strided, -1);
            adamWGroups(AdamW.Config.DEFAULT.withLr(3e-2).withEps(1e-6), strided, 2);
        }
    }

    /** The kernel itself: a multi-tensor update is taken whole or refused whole, and writes nothing when refused. */
    @Test
    void cpuKernelTakesAllOrNothing() {
        var g = new Generator(10);
        AdamHyper h = AdamHyper.ADAMW.withLr(1e-2).withAmsgrad(true);
        Tensor a = Tensor.randn(g, 5), b = Tensor.randn(g, 6, 4), bStrided = b.t().copy().t();
        Tensor ga = Tensor.randn(g, 5), gb = Tensor.randn(g, 6, 4);
        var refusedBatch = new AdamUpdate(h, List.of(param(a, ga, 1), param(bStrided, gb, 1)));
        Tensor aBefore = a.copy();
        assertNull(cpuKernel(refusedBatch), "the CPU kernel declines a strided parameter (the op path runs instead)");
        assertArrayEquals(aBefore.toFloatArray(), a.toFloatArray(), 0f, "nothing written when refused");

        var batch = new AdamUpdate(h, List.of(param(a, ga, 3), param(b, gb, 1)));
        Tensor aRef = a.copy(), bRef = b.copy();
        Adam.State ra = AdamStep.reference(h, aRef, ga, state(batch.params().get(0), 2));
        Adam.State rb = AdamStep.reference(h, bRef, gb, state(batch.params().get(1), 0));
        assertNotNull(cpuKernel(batch));
        assertArrayEquals(aRef.toFloatArray(), a.toFloatArray(), 0f);
        assertArrayEquals(bRef.toFloatArray(), b.toFloatArray(), 0f);
        assertArrayEquals(ra.expAvgSq().toFloatArray(), batch.params().get(0).expAvgSq().toFloatArray(), 0f);
        assertArrayEquals(rb.maxExpAvgSq().toFloatArray(), batch.params().get(1).maxExpAvgSq().toFloatArray(), 0f);
        assertNotEquals(0f, rb.maxExpAvgSq().toFloatArray()[0]);
    }

    private static FusedOp.Result cpuKernel(AdamUpdate u) {
        return FusedKernels.kernel(u, Device.CPU).forward(u, u.tensors());
    }

    /** Fresh state of param's shape for update number step, with m and v not zero so that the moments matter. */
    private static AdamUpdate.Param param(Tensor p, Tensor grad, long step) {
        var g = new Generator(step);
        return new AdamUpdate.Param(p, grad, Tensor.randn(g, p.shape()), Tensor.randn(g, p.shape()).abs(), Tensor.randn(g, p.shape()).abs(), step);
    }

    /** A copy of u's state before the update (step count one less). */
    private static Adam.State state(AdamUpdate.Param u, long step) {
        return new Adam.State(step, u.expAvg().copy(), u.expAvgSq().copy(), u.maxExpAvgSq().copy());
    }
}
