package dev.fluxion.optim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Defaults (REFERENCE.md 2.9, PyTorch's) and the messages for bad settings. */
class ConfigTest {

    @Test void defaultsArePyTorchs() {
        assertEquals(new SGD.Config(1e-3, 0, 0, 0, false), SGD.Config.DEFAULT);
        assertEquals(new AdaGrad.Config(0.01, 0, 0, 0, 1e-10), AdaGrad.Config.DEFAULT);
        assertEquals(new RMSProp.Config(0.01, 0.99, 1e-8, 0, 0, false), RMSProp.Config.DEFAULT);
        assertEquals(new Adam.Config(1e-3, 0.9, 0.999, 1e-8, 0, false), Adam.Config.DEFAULT);
        assertEquals(new AdamW.Config(1e-3, 0.9, 0.999, 1e-8, 0.01, false), AdamW.Config.DEFAULT);
    }

    @Test void withMethodsChangeOneSetting() {
        var c = Adam.Config.DEFAULT.withLr(3e-4).withBetas(0.9, 0.95).withEps(1e-6).withWeightDecay(0.1).withAmsgrad(true);
        assertEquals(new Adam.Config(3e-4, 0.9, 0.95, 1e-6, 0.1, true), c);
        assertEquals(new SGD.Config(0.1, 0.9, 0, 1e-4, true),
                SGD.Config.DEFAULT.withLr(0.1).withMomentum(0.9).withWeightDecay(1e-4).withNesterov(true));
    }

    @Test void sgd() {
        refused("SGD.Config: lr must be >= 0, got -0.1", () -> SGD.Config.DEFAULT.withLr(-0.1));
        refused("SGD.Config: lr must be >= 0, got NaN", () -> SGD.Config.DEFAULT.withLr(Double.NaN));
        refused("SGD.Config: momentum must be >= 0, got -0.9", () -> SGD.Config.DEFAULT.withMomentum(-0.9));
        refused("SGD.Config: weightDecay must be >= 0, got -1.0E-4", () -> SGD.Config.DEFAULT.withWeightDecay(-1e-4));
        refused("SGD.Config: nesterov requires momentum > 0 and dampening = 0, got momentum 0.0 and dampening 0.0",
                () -> SGD.Config.DEFAULT.withNesterov(true));
        refused("SGD.Config: nesterov requires momentum > 0 and dampening = 0, got momentum 0.9 and dampening 0.1",
                () -> SGD.Config.DEFAULT.withMomentum(0.9).withDampening(0.1).withNesterov(true));
    }

    @Test void adagrad() {
        refused("AdaGrad.Config: lr must be >= 0, got -1.0", () -> AdaGrad.Config.DEFAULT.withLr(-1));
        refused("AdaGrad.Config: lrDecay must be >= 0, got -0.1", () -> AdaGrad.Config.DEFAULT.withLrDecay(-0.1));
        refused("AdaGrad.Config: initialAccumulatorValue must be >= 0, got -1.0", () -> AdaGrad.Config.DEFAULT.withInitialAccumulatorValue(-1));
        refused("AdaGrad.Config: eps must be >= 0, got -1.0E-10", () -> AdaGrad.Config.DEFAULT.withEps(-1e-10));
        refused("AdaGrad.Config: weightDecay must be >= 0, got -0.5", () -> AdaGrad.Config.DEFAULT.withWeightDecay(-0.5));
    }

    @Test void rmsprop() {
        refused("RMSProp.Config: alpha must be in [0, 1], got 1.5", () -> RMSProp.Config.DEFAULT.withAlpha(1.5));
        refused("RMSProp.Config: eps must be >= 0, got -1.0", () -> RMSProp.Config.DEFAULT.withEps(-1));
        refused("RMSProp.Config: momentum must be >= 0, got -0.5", () -> RMSProp.Config.DEFAULT.withMomentum(-0.5));
        refused("RMSProp.Config: lr must be >= 0, got -0.01", () -> RMSProp.Config.DEFAULT.withLr(-0.01));
    }

    @Test void adamAndAdamW() {
        refused("Adam.Config: beta1 must be in [0, 1), got 1.0", () -> Adam.Config.DEFAULT.withBetas(1.0, 0.999));
        refused("Adam.Config: beta2 must be in [0, 1), got -0.1", () -> Adam.Config.DEFAULT.withBetas(0.9, -0.1));
        refused("Adam.Config: lr must be >= 0, got -0.001", () -> Adam.Config.DEFAULT.withLr(-1e-3));
        refused("Adam.Config: eps must be >= 0, got -1.0E-8", () -> Adam.Config.DEFAULT.withEps(-1e-8));
        refused("Adam.Config: weightDecay must be >= 0, got -0.1", () -> Adam.Config.DEFAULT.withWeightDecay(-0.1));
        refused("AdamW.Config: beta2 must be in [0, 1), got 1.0", () -> AdamW.Config.DEFAULT.withBetas(0.9, 1.0));
        refused("AdamW.Config: weightDecay must be >= 0, got NaN", () -> AdamW.Config.DEFAULT.withWeightDecay(Double.NaN));
    }

    private static void refused(String message, Executable make) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, make).getMessage());
    }
}
