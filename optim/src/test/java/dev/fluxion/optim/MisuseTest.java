package dev.fluxion.optim;

import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Optimizer configs, schedules, the grad scaler and clipping refuse NaN, infinite and negative numbers, naming the setting. */
class MisuseTest {
    private static final double NAN = Double.NaN, INF = Double.POSITIVE_INFINITY;

    private static Arguments row(String call, Executable action, String... words) {
        return Arguments.of(call, action, words);
    }

    static Stream<Arguments> rows() {
        return Stream.of(
                row("SGD lr NaN", () -> new SGD.Config(NAN, 0, 0, 0, false), "SGD.Config", "lr", "NaN"),
                row("SGD lr inf", () -> new SGD.Config(INF, 0, 0, 0, false), "SGD.Config", "lr", "Infinity"),
                row("SGD lr -1", () -> new SGD.Config(-1, 0, 0, 0, false), "SGD.Config", "lr", "-1"),
                row("SGD momentum NaN", () -> new SGD.Config(0.1, NAN, 0, 0, false), "momentum", "NaN"),
                row("SGD momentum inf", () -> new SGD.Config(0.1, INF, 0, 0, false), "momentum", "Infinity"),
                row("SGD dampening NaN", () -> new SGD.Config(0.1, 0.9, NAN, 0, false), "dampening", "NaN"),
                row("SGD weightDecay inf", () -> new SGD.Config(0.1, 0, 0, INF, false), "weightDecay", "Infinity"),
                row("SGD weightDecay NaN", () -> new SGD.Config(0.1, 0, 0, NAN, false), "weightDecay", "NaN"),
                row("Adam lr NaN", () -> new Adam.Config(NAN, 0.9, 0.999, 1e-8, 0, false), "Adam.Config", "lr", "NaN"),
                row("Adam lr inf", () -> new Adam.Config(INF, 0.9, 0.999, 1e-8, 0, false), "Adam.Config", "lr", "Infinity"),
                row("Adam beta1 NaN", () -> new Adam.Config(1e-3, NAN, 0.999, 1e-8, 0, false), "beta1", "NaN"),
                row("Adam beta1 1", () -> new Adam.Config(1e-3, 1, 0.999, 1e-8, 0, false), "beta1", "[0, 1)"),
                row("Adam beta2 -0.1", () -> new Adam.Config(1e-3, 0.9, -0.1, 1e-8, 0, false), "beta2", "-0.1"),
                row("Adam eps NaN", () -> new Adam.Config(1e-3, 0.9, 0.999, NAN, 0, false), "eps", "NaN"),
                row("Adam eps inf", () -> new Adam.Config(1e-3, 0.9, 0.999, INF, 0, false), "eps", "Infinity"),
                row("Adam eps -1e-8", () -> new Adam.Config(1e-3, 0.9, 0.999, -1e-8, 0, false), "eps"),
                row("Adam weightDecay inf", () -> new Adam.Config(1e-3, 0.9, 0.999, 1e-8, INF, false), "weightDecay", "Infinity"),
                row("AdamW lr NaN", () -> new AdamW.Config(NAN, 0.9, 0.999, 1e-8, 0.01, false), "AdamW.Config", "lr", "NaN"),
                row("AdamW beta2 1", () -> new AdamW.Config(1e-3, 0.9, 1, 1e-8, 0.01, false), "AdamW.Config", "beta2"),
                row("AdamW weightDecay -0.01", () -> new AdamW.Config(1e-3, 0.9, 0.999, 1e-8, -0.01, false), "weightDecay", "-0.01"),
                row("AdamW eps inf", () -> new AdamW.Config(1e-3, 0.9, 0.999, INF, 0.01, false), "eps", "Infinity"),
                row("AdaGrad lr inf", () -> new AdaGrad.Config(INF, 0, 0, 0, 1e-10), "AdaGrad.Config", "lr", "Infinity"),
                row("AdaGrad lrDecay NaN", () -> new AdaGrad.Config(0.01, NAN, 0, 0, 1e-10), "lrDecay", "NaN"),
                row("AdaGrad initialAccumulatorValue -1", () -> new AdaGrad.Config(0.01, 0, 0, -1, 1e-10), "initialAccumulatorValue"),
                row("AdaGrad eps NaN", () -> new AdaGrad.Config(0.01, 0, 0, 0, NAN), "eps", "NaN"),
                row("RMSProp lr NaN", () -> new RMSProp.Config(NAN, 0.99, 1e-8, 0, 0, false), "RMSProp.Config", "lr", "NaN"),
                row("RMSProp alpha NaN", () -> new RMSProp.Config(0.01, NAN, 1e-8, 0, 0, false), "alpha", "NaN"),
                row("RMSProp alpha 1.5", () -> new RMSProp.Config(0.01, 1.5, 1e-8, 0, 0, false), "alpha", "1.5"),
                row("RMSProp eps inf", () -> new RMSProp.Config(0.01, 0.99, INF, 0, 0, false), "eps", "Infinity"),
                row("RMSProp momentum NaN", () -> new RMSProp.Config(0.01, 0.99, 1e-8, 0, NAN, false), "momentum", "NaN"),
                row("RMSProp weightDecay -1", () -> new RMSProp.Config(0.01, 0.99, 1e-8, -1, 0, false), "weightDecay", "-1"),
                row("StepDecay stepSize 0", () -> new Schedule.StepDecay(0, 0.5), "StepDecay", "stepSize", "0"),
                row("StepDecay gamma NaN", () -> new Schedule.StepDecay(10, NAN), "StepDecay", "gamma", "NaN"),
                row("StepDecay gamma inf", () -> new Schedule.StepDecay(10, INF), "StepDecay", "gamma", "Infinity"),
                row("StepDecay gamma -0.5", () -> new Schedule.StepDecay(10, -0.5), "gamma", "-0.5"),
                row("WarmupCosine warmup -1", () -> new Schedule.WarmupCosine(-1, 10, 0), "WarmupCosine", "warmupSteps", "-1"),
                row("WarmupCosine total < warmup", () -> new Schedule.WarmupCosine(10, 5, 0), "totalSteps", "5"),
                row("WarmupCosine minLr NaN", () -> new Schedule.WarmupCosine(1, 10, NAN), "minLr", "NaN"),
                row("WarmupCosine minLr inf", () -> new Schedule.WarmupCosine(1, 10, INF), "minLr", "Infinity"),
                row("MultiStep gamma NaN", () -> new Schedule.MultiStep(NAN, new long[] {10}), "MultiStep", "gamma", "NaN"),
                row("MultiStep milestone -1", () -> new Schedule.MultiStep(0.1, new long[] {-1}), "MultiStep", "milestones"),
                row("Exponential gamma inf", () -> new Schedule.Exponential(INF), "Exponential", "gamma", "Infinity"),
                row("Linear startFactor NaN", () -> new Schedule.Linear(NAN, 1, 10), "Linear", "startFactor", "NaN"),
                row("Linear endFactor NaN", () -> new Schedule.Linear(0.5, NAN, 10), "Linear", "endFactor", "NaN"),
                row("CosineAnnealing etaMin NaN", () -> new Schedule.CosineAnnealing(10, NAN), "CosineAnnealing", "etaMin", "NaN"),
                row("CosineWarmRestarts t0 0", () -> new Schedule.CosineWarmRestarts(0, 1, 0), "CosineWarmRestarts", "t0", "0"),
                row("OneCycle pctStart NaN", () -> new Schedule.OneCycle(100, NAN, Schedule.Anneal.COS, 25, 1e4, false), "OneCycle", "pctStart", "NaN"),
                row("OneCycle divFactor NaN", () -> new Schedule.OneCycle(100, 0.3, Schedule.Anneal.COS, NAN, 1e4, false), "OneCycle", "divFactor", "NaN"),
                row("ReduceLROnPlateau factor NaN", () -> ReduceLROnPlateau.Config.DEFAULT.withFactor(NAN), "ReduceLROnPlateau", "factor", "NaN"),
                row("ReduceLROnPlateau factor 1", () -> ReduceLROnPlateau.Config.DEFAULT.withFactor(1), "ReduceLROnPlateau", "factor", "1.0"),
                row("GradScaler initScale NaN", () -> new GradScaler.Config(NAN, 2, 0.5, 2000, true), "GradScaler", "initScale", "NaN"),
                row("GradScaler initScale inf", () -> new GradScaler.Config(INF, 2, 0.5, 2000, true), "initScale", "Infinity"),
                row("GradScaler initScale 0", () -> new GradScaler.Config(0, 2, 0.5, 2000, true), "initScale"),
                row("GradScaler growthFactor NaN", () -> new GradScaler.Config(65536, NAN, 0.5, 2000, true), "growthFactor", "NaN"),
                row("GradScaler growthFactor inf", () -> new GradScaler.Config(65536, INF, 0.5, 2000, true), "growthFactor", "Infinity"),
                row("GradScaler backoffFactor NaN", () -> new GradScaler.Config(65536, 2, NAN, 2000, true), "backoffFactor", "NaN"),
                row("GradScaler backoffFactor 1", () -> new GradScaler.Config(65536, 2, 1, 2000, true), "backoffFactor", "1.0"),
                row("GradScaler growthInterval 0", () -> new GradScaler.Config(65536, 2, 0.5, 0, true), "growthInterval", "0"),
                row("clipGradNorm maxNorm NaN", () -> Clipping.clipGradNorm(List.of(Tensor.ones(2)), NAN), "clipGradNorm", "maxNorm", "NaN"),
                row("clipGradNorm maxNorm -1", () -> Clipping.clipGradNorm(List.of(Tensor.ones(2)), -1), "clipGradNorm", "-1"),
                row("ParamGroup null parameter", () -> ParamGroup.of(java.util.Arrays.asList(Tensor.ones(1), null), SGD.Config.DEFAULT), "ParamGroup", "null")
        );
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void misuseFailsClearly(String call, Executable action, String[] words) {
        Throwable e = assertThrows(IllegalArgumentException.class, action, call);
        String m = String.valueOf(e.getMessage());
        for (String w : words) assertTrue(m.contains(w), call + ": expected '" + w + "' in: " + m);
    }
}
