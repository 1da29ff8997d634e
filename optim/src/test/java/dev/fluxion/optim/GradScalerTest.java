package dev.fluxion.optim;

import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** GradScaler on the CPU backend (it is written on the tensor API, so the logic is device-independent). */
class GradScalerTest {
    private static Tensor param(float... grad) {
        Tensor p = Tensor.zeros(grad.length);
        p.setGrad(Tensor.of(grad));
        return p;
    }

    @Test void defaultsAreTorchs() {
        GradScaler.Config c = GradScaler.Config.DEFAULT;
        assertEquals(65536.0, c.initScale());
        assertEquals(2.0, c.growthFactor());
        assertEquals(0.5, c.backoffFactor());
        assertEquals(2000, c.growthInterval());
        assertEquals(65536.0, new GradScaler().getScale());
    }

    @Test void scalesLossAndUnscalesGradients() {
        GradScaler s = new GradScaler(GradScaler.Config.DEFAULT.withInitScale(8));
        assertEquals(24.0, s.scale(Tensor.scalar(3)).item());
        Tensor p = param(8, 16, -4);
        AtomicInteger steps = new AtomicInteger();
        assertTrue(s.step(List.of(p), steps::incrementAndGet));
        assertArrayEquals(new float[] {1, 2, -0.5f}, p.grad().toFloatArray());
        assertEquals(1, steps.get());
        s.update();
        assertEquals(8.0, s.getScale());
    }

    @Test void overflowSkipsTheStepAndBacksOff() {
        GradScaler s = new GradScaler();
        for (float bad : new float[] {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN}) {
            double before = s.getScale();
            AtomicInteger steps = new AtomicInteger();
            assertFalse(s.step(List.of(param(1, bad), param(2)), steps::incrementAndGet));
            assertEquals(0, steps.get(), "step must be skipped for " + bad);
            s.update();
            assertEquals(before * 0.5, s.getScale());
        }
    }

    @Test void growsAfterIntervalOfFiniteSteps() {
        GradScaler s = new GradScaler(GradScaler.Config.DEFAULT.withGrowthInterval(3));
        for (int i = 0; i < 2; i++) {
            s.step(List.of(param(1)), () -> {});
            s.update();
            assertEquals(65536.0, s.getScale());
        }
        s.step(List.of(param(1)), () -> {});
        s.update();
        assertEquals(131072.0, s.getScale());
        assertEquals(0, s.state().growthTracker());
    }

    @Test void overflowResetsTheGrowthCount() {
        GradScaler s = new GradScaler(GradScaler.Config.DEFAULT.withGrowthInterval(2));
        s.step(List.of(param(1)), () -> {});
        s.update();
        s.step(List.of(param(Float.NaN)), () -> {});
        s.update();
        assertEquals(32768.0, s.getScale());
        s.step(List.of(param(1)), () -> {});
        s.update();
        assertEquals(32768.0, s.getScale(), "one finite step after an overflow is not yet a full interval");
    }

    @Test void defaultIntervalIs2000() {
        GradScaler s = new GradScaler();
        for (int i = 0; i < 1999; i++) { s.step(List.of(param(1)), () -> {}); s.update(); }
        assertEquals(65536.0, s.getScale());
        s.step(List.of(param(1)), () -> {});
        s.update();
        assertEquals(131072.0, s.getScale());
    }

    @Test void unscaleTwiceIsAnError() {
        GradScaler s = new GradScaler();
        List<Tensor> ps = List.of(param(1));
        s.unscale(ps);
        assertThrows(IllegalStateException.class, () -> s.unscale(ps));
        s.step(ps, () -> {});               // uses the earlier unscale
        s.update();
        assertThrows(IllegalStateException.class, s::update);
    }

    @Test void disabledIsATransparentPassThrough() {
        GradScaler s = new GradScaler(GradScaler.Config.DEFAULT.withEnabled(false));
        Tensor loss = Tensor.scalar(3);
        assertEquals(loss, s.scale(loss));
        Tensor p = param(Float.NaN);
        AtomicInteger steps = new AtomicInteger();
        assertTrue(s.step(List.of(p), steps::incrementAndGet));
        assertEquals(1, steps.get());
        s.update();
        assertEquals(1.0, s.getScale());
    }

    @Test void stepsAnOptimizerUnlessItsGradientsOverflowed() {
        Tensor w = Tensor.of(new float[] {1, 2}).requiresGrad(true);
        SGD opt = new SGD(List.of(w), SGD.Config.DEFAULT.withLr(0.5));
        GradScaler s = new GradScaler(GradScaler.Config.DEFAULT.withInitScale(4));
        w.setGrad(Tensor.of(new float[] {4, -8}));                       // scaled gradient: 1, -2 after unscaling
        assertTrue(s.step(opt));
        s.update();
        assertArrayEquals(new float[] {0.5f, 3}, w.toFloatArray());
        w.setGrad(Tensor.of(new float[] {Float.POSITIVE_INFINITY, 1}));
        assertFalse(s.unscale(opt));
        assertFalse(s.step(opt));
        s.update();
        assertArrayEquals(new float[] {0.5f, 3}, w.toFloatArray(), "the overflowed step left the parameter alone");
        assertEquals(2.0, s.getScale());
    }

    @Test void stateRoundTrips() {
        GradScaler a = new GradScaler();
        a.step(List.of(param(Float.NaN)), () -> {});
        a.update();
        GradScaler b = new GradScaler();
        b.load(a.state());
        assertEquals(a.getScale(), b.getScale());
        assertThrows(IllegalArgumentException.class, () -> new GradScaler(GradScaler.Config.DEFAULT.withInitScale(0)));
    }
}
