package dev.fluxion.autodiff;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** backwardInputs + WeightGradients.run equal one backward; the first part computes no weight gradient. */
class SplitBackwardTest {
    @AfterEach void clearTape() { Autodiff.tape().clear(); }

    /** x (leaf input), then two tanh layers with weights w1, w2 and a bias b1. */
    static Tensor net(Tensor x, Tensor[] p) {
        Tensor h = x.matmul(p[0].transpose(0, 1)).add(p[1]).tanh();
        return h.matmul(p[2].transpose(0, 1)).mul(h.sum(1, true));            // h used twice: gradients merge
    }

    static Tensor[] params(long seed) {
        var g = new Generator(seed);
        return new Tensor[] {Tensor.randn(g, 5, 3).requiresGrad(true), Tensor.randn(g, 5).requiresGrad(true), Tensor.randn(g, 2, 5).requiresGrad(true)};
    }

    @Test void splitGradientsEqualOneBackward() {
        Tensor seedGrad = Tensor.randn(new Generator(9), 4, 2);
        Tensor xa = Tensor.randn(new Generator(3), 4, 3).requiresGrad(true), xb = xa.detach().copy().requiresGrad(true);
        Tensor[] pa = params(1), pb = params(1);
        net(xa, pa).backward(seedGrad);

        var weights = Autodiff.backwardInputs(net(xb, pb), seedGrad, xb);
        assertArrayEquals(xa.grad().toFloatArray(), xb.grad().toFloatArray(), 1e-6f, "input gradient from the first part");
        for (Tensor p : pb) assertNull(p.grad(), "weight gradients wait for run()");
        weights.run();
        for (int i = 0; i < pa.length; i++) assertArrayEquals(pa[i].grad().toFloatArray(), pb[i].grad().toFloatArray(), 1e-6f, "parameter " + i);
        assertThrows(IllegalStateException.class, weights::run);
    }

    @Test void aStageWithoutInputsDefersEverything() {
        Tensor x = Tensor.randn(new Generator(3), 4, 3);                          // stage 0: ids, no gradient wanted
        Tensor[] pa = params(1), pb = params(1);
        net(x, pa).sum().backward();
        Tensor dummy = Tensor.zeros(1).requiresGrad(true);
        var weights = Autodiff.backwardInputs(net(x, pb).sum(), null, dummy);
        for (Tensor p : pb) assertNull(p.grad());
        weights.run();
        for (int i = 0; i < pa.length; i++) assertArrayEquals(pa[i].grad().toFloatArray(), pb[i].grad().toFloatArray(), 1e-6f, "parameter " + i);
    }

    @Test void eachPartAsksTheRuleOnlyForItsInputs() {
        List<String> asked = new ArrayList<>();
        Rule spy = Rule.of(Save.inputs(0, 1), (s, g) -> {
            asked.add(s.needsGrad(0) + "," + s.needsGrad(1));
            return new Tensor[] {s.needsGrad(0) ? g.mul(s.input(1)) : null, s.needsGrad(1) ? g.mul(s.input(0)) : null};
        });
        Tensor x = Tensor.randn(new Generator(1), 3).requiresGrad(true), w = Tensor.randn(new Generator(2), 3).requiresGrad(true);
        Tensor y = Autodiff.function("spy", a -> a[0].mul(a[1]), spy, new Tensor[] {x, w}).sum();
        var weights = Autodiff.backwardInputs(y, null, x);
        assertEquals(List.of("true,false"), asked);
        weights.run();
        assertEquals(List.of("true,false", "false,true"), asked);
        assertArrayEquals(x.toFloatArray(), w.grad().toFloatArray());
        assertArrayEquals(w.toFloatArray(), x.grad().toFloatArray());
    }

    @Test void checkpointsAndNonLeafInputsAreRefused() {
        Tensor x = Tensor.randn(new Generator(1), 2, 3).requiresGrad(true);
        Tensor[] p = params(2);
        Tensor out = Autodiff.checkpoint(a -> net(a[0], p), x).sum();
        var e = assertThrows(UnsupportedOperationException.class, () -> Autodiff.backwardInputs(out, null, x));
        assertTrue(e.getMessage().contains("checkpoint"), e.getMessage());
        Tensor h = x.mul(2);
        assertThrows(IllegalArgumentException.class, () -> Autodiff.backwardInputs(h.sum(), null, h));
    }
}
