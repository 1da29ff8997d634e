package dev.fluxion.optim;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * SGD's group step (the CPU's fused kernel for contiguous float32, the composed {@code SgdUpdate} elsewhere)
 * gives the same bits, parameters and momentum buffers, as the op-by-op update SGD had before the fused step
 * (kept below verbatim), for every combination of momentum, dampening, Nesterov and weight decay.
 */
class FusedSgdTest {

    /** SGD as it was before the fused step: new tensors each step, the base class's per-parameter stepGroup. */
    static final class Before extends Optimizer<SGD.Config, SGD.State> {
        Before(List<Tensor> params, SGD.Config c) { super(List.of(ParamGroup.of(params, c)), SGD.Config.class, SGD.State.class); }

        @Override protected SGD.State init(Tensor param, SGD.Config c) { return new SGD.State(null); }

        @Override protected SGD.State update(Tensor param, Tensor grad, SGD.State s, SGD.Config c) {
            Tensor d = c.weightDecay() != 0 ? grad.add(param.mul(c.weightDecay())) : grad;
            Tensor buf = null;
            if (c.momentum() != 0) {
                if (s.momentumBuffer() == null) buf = d.copy();
                else buf = s.momentumBuffer().mul(c.momentum()).add(c.dampening() != 0 ? d.mul(1 - c.dampening()) : d);
                d = c.nesterov() ? d.add(buf.mul(c.momentum())) : buf;
            }
            param.copy_(param.add(d.mul(-c.lr())));
            return new SGD.State(buf);
        }
    }

    private static final SGD.Config[] CONFIGS = {
            SGD.Config.DEFAULT.withLr(0.1),
            SGD.Config.DEFAULT.withLr(0.1).withWeightDecay(0.01),
            SGD.Config.DEFAULT.withLr(0.05).withMomentum(0.9),
            SGD.Config.DEFAULT.withLr(0.05).withMomentum(0.9).withDampening(0.3).withWeightDecay(0.02),
            SGD.Config.DEFAULT.withLr(0.05).withMomentum(0.8).withNesterov(true).withWeightDecay(0.01)};

    /** Steps a fresh SGD and a fresh Before from the same values and gradients, comparing bits after each step. */
    private static void compare(SGD.Config c, UnaryOperator<Tensor> layout, int[]... shapes) {
        var g = new Generator(11);
        List<Tensor> mine = new ArrayList<>(), ref = new ArrayList<>();
        for (int[] s : shapes) {
            Tensor init = Tensor.randn(g, s);
            mine.add(layout.apply(init).requiresGrad(true));
            ref.add(init.copy().requiresGrad(true));
        }
        SGD sgd = new SGD(mine, c);
        Before before = new Before(ref, c);
        for (int step = 0; step < 4; step++) {
            for (int k = 0; k < shapes.length; k++) {
                Tensor grad = Tensor.randn(g, shapes[k]);
                mine.get(k).setGrad(layout.apply(grad));
                ref.get(k).setGrad(grad);
            }
            sgd.step();
            before.step();
            for (int k = 0; k < shapes.length; k++)
                assertArrayEquals(ref.get(k).toFloatArray(), mine.get(k).toFloatArray(), 0f, c + " step " + step + " parameter " + k);
        }
        var mineState = sgd.stateDict();
        var refState = before.stateDict();
        assertEquals(refState.keySet(), mineState.keySet(), c + ": state keys");
        for (String key : refState.keySet())
            assertArrayEquals(refState.get(key).toFloatArray(), mineState.get(key).toFloatArray(), 0f, c + ": " + key);
    }

    @Test
    void fusedKernelEqualsTheOpByOpUpdate() {
        // 7: a tail only; 37x53 not a multiple of a chunk; 70001 splits into parallel pieces
        for (SGD.Config c : CONFIGS) compare(c, Tensor::copy, new int[] {7}, new int[] {37, 53}, new int[] {70_001});
    }

    @Test
    void nonContiguousParametersTakeTheComposedPathWithTheSameBits() {
        for (SGD.Config c : CONFIGS) compare(c, t -> t.t().copy().t(), new int[] {37, 53}, new int[] {5, 3});
    }
}
