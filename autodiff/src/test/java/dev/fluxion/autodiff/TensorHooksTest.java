package dev.fluxion.autodiff;

import dev.fluxion.tensor.HookHandle;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tensor.registerHook (torch's register_hook) on leaves and intermediates, and Tensor.retainGrad. */
class TensorHooksTest {
    private static Tensor leaf(double... v) { return Tensor.of(v, v.length).requiresGrad(true); }

    @Test void aHookOnAnIntermediateReplacesTheGradientThatFlowsOn() {
        Tensor x = leaf(1, 2);
        Tensor y = x.mul(2);
        List<double[]> seen = new ArrayList<>();
        HookHandle h = y.registerHook(g -> { seen.add(g.toDoubleArray()); return g.mul(10); });
        y.mul(y).sum().backward();                                   // dy = 2y = (4, 8), x gets 2 * 10 * dy
        assertArrayEquals(new double[] {4, 8}, seen.get(0), 0);
        assertArrayEquals(new double[] {80, 160}, x.grad().toDoubleArray(), 0);
        h.remove();
        x.setGrad(null);
        x.mul(2).sum().backward();
        assertArrayEquals(new double[] {2, 2}, x.grad().toDoubleArray(), 0);
        assertEquals(1, seen.size(), "a removed hook does not run");
    }

    @Test void aLeafHookSeesThePassTotalOnceAndItsResultIsAccumulated() {
        Tensor x = leaf(1, 2);
        List<double[]> seen = new ArrayList<>();
        try (HookHandle h = x.registerHook(g -> { seen.add(g.toDoubleArray()); return g.mul(-1); })) {
            x.mul(3).add(x.mul(x)).sum().backward();                  // d/dx = 3 + 2x, from two uses
            assertEquals(1, seen.size(), "one call with the summed gradient");
            assertArrayEquals(new double[] {5, 7}, seen.get(0), 0);
            assertArrayEquals(new double[] {-5, -7}, x.grad().toDoubleArray(), 0);
        }
    }

    @Test void aHookReturningNullKeepsTheGradientAndHooksChain() {
        Tensor x = leaf(1, 2);
        Tensor y = x.mul(1);
        y.registerHook(g -> null);
        y.registerHook(g -> g.add(1));
        y.sum().backward();
        assertArrayEquals(new double[] {2, 2}, x.grad().toDoubleArray(), 0);
    }

    @Test void hooksRunInAutodiffGradToo() {
        Tensor x = leaf(1, 2);
        Tensor y = x.mul(x);
        y.registerHook(g -> g.mul(0.5));
        Tensor[] g = Autodiff.grad(y.sum(), x);
        assertArrayEquals(new double[] {1, 2}, g[0].toDoubleArray(), 0);
    }

    @Test void retainGradKeepsAnIntermediatesGradientAndAccumulates() {
        Tensor x = leaf(1, 2);
        Tensor y = x.mul(3).retainGrad();
        Tensor z = x.mul(3);
        Tensor loss = y.mul(y).sum().add(z.sum());
        loss.backward(null, true);
        assertArrayEquals(new double[] {6, 12}, y.grad().toDoubleArray(), 0);   // 2y
        assertNull(z.grad(), "an intermediate without retainGrad keeps no gradient");
        loss.backward(null, false);
        assertArrayEquals(new double[] {12, 24}, y.grad().toDoubleArray(), 0);
        Tensor root = x.sum().retainGrad();
        root.backward();
        assertEquals(1.0, root.grad().item());
    }

    @Test void hooksNeedATensorThatRequiresGrad() {
        Tensor c = Tensor.of(new double[] {1}, 1);
        var e = assertThrows(IllegalStateException.class, () -> c.registerHook(g -> g));
        assertTrue(e.getMessage().contains("does not require grad"), e.getMessage());
        assertThrows(IllegalStateException.class, c::retainGrad);
        Tensor x = leaf(1, 2);
        Tensor y = x.mul(2);
        y.registerHook(g -> g.sum());
        var s = assertThrows(IllegalStateException.class, () -> y.sum().backward());
        assertTrue(s.getMessage().contains("same shape"), s.getMessage());
    }
}
