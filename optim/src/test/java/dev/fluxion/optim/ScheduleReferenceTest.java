package dev.fluxion.optim;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.IntFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Every schedule against PyTorch's lr sequence for the same settings (make_schedule_reference.py ->
 * lr_schedules.json), to 1e-9 relative, on two groups with base lrs 0.1 and 0.02.
 */
class ScheduleReferenceTest {
    private static final JsonNode REF = load();
    private static final double RTOL = 1e-9;

    private static JsonNode load() {
        try (InputStream in = ScheduleReferenceTest.class.getResourceAsStream("/reference/lr_schedules.json")) {
            assertNotNull(in, "missing /reference/lr_schedules.json; run make_schedule_reference.py");
            return JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build().readTree(in);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    private static SGD twoGroups() {
        return new SGD(List.of(
                new ParamGroup<>(List.of(Tensor.zeros(1).requiresGrad(true)), SGD.Config.DEFAULT.withLr(0.1)),
                new ParamGroup<>(List.of(Tensor.zeros(1).requiresGrad(true)), SGD.Config.DEFAULT.withLr(0.02))));
    }

    /** Runs the schedule through an LrScheduler and compares the lr each optimizer step uses. */
    private static void check(String name, Schedule schedule) {
        SGD opt = twoGroups();
        LrScheduler sched = new LrScheduler(opt, schedule);
        compare(name, opt, k -> sched.step());
    }

    private static void compare(String name, SGD opt, Consumer<Integer> afterStep) {
        JsonNode lrs = REF.get(name).get("lrs");
        for (int k = 0; k < lrs.size(); k++) {
            for (int g = 0; g < 2; g++) {
                double expected = lrs.get(k).get(g).asDouble();
                assertEquals(expected, opt.lr(g), RTOL * Math.abs(expected), name + ": lr of group " + g + " at step " + k);
            }
            if (k < lrs.size() - 1) afterStep.accept(k);
        }
    }

    private static JsonNode settings(String name) { return REF.get(name).get("settings"); }

    @Test void lambdaMatchesLambdaLR() {
        check("lambda", Schedule.lambda(k -> (k + 1.0) / (k + 2.0) * Math.pow(0.97, k)));
    }

    @Test void multiStepMatchesMultiStepLR() { check("multistep", Schedule.multiStep(0.5, 12, 3, 7, 7)); }   // unsorted, repeated

    @Test void exponentialMatchesExponentialLR() { check("exponential", Schedule.exponential(0.9)); }

    @Test void linearMatchesLinearLR() { check("linear", Schedule.linear(0.25, 0.75, 6)); }

    @Test void cosineAnnealingMatchesCosineAnnealingLRAlsoPastTMax() { check("cosine", Schedule.cosineAnnealing(10, 0.001)); }

    @Test void warmRestartsMatchCosineAnnealingWarmRestarts() {
        check("warm_restarts_mult1", Schedule.cosineWarmRestarts(5, 1, 0));
        check("warm_restarts_mult2", Schedule.cosineWarmRestarts(3, 2, 0.001));
    }

    @Test void oneCycleMatchesOneCycleLR() {
        check("one_cycle_default", Schedule.oneCycle(30));
        check("one_cycle_short", Schedule.oneCycle(10));
        check("one_cycle_linear_three_phase", Schedule.oneCycle(40).withPctStart(0.25).withAnneal(Schedule.Anneal.LINEAR)
                .withDivFactor(10).withFinalDivFactor(100).withThreePhase(true));
        check("one_cycle_cos_three_phase", Schedule.oneCycle(25).withThreePhase(true));
    }

    @Test void oneCycleRefusesAStepPastTotalStepsLikeTorch() {
        Schedule s = Schedule.oneCycle(10);
        s.lr(0.1, 10);   // the lr after the last step() is defined
        var e = assertThrows(IllegalStateException.class, () -> s.lr(0.1, 11));
        assertEquals("Schedule.OneCycle: tried to step 12 times; the specified number of total steps is 10", e.getMessage());
    }

    @Test void warmupChainsMatchSequentialLR() {
        JsonNode s = settings("warmup_cosine_sequential");
        check("warmup_cosine_sequential", Schedule.warmup(s.get("warmup").asLong(), s.get("start_factor").asDouble(),
                Schedule.cosineAnnealing(s.get("t_max").asLong(), s.get("eta_min").asDouble())));
        check("warmup_exponential_sequential", Schedule.sequential(List.of(Schedule.linear(1.0 / 3, 1.0, 4), Schedule.exponential(0.9)), 4));
    }

    @Test void reduceOnPlateauMatchesReduceLROnPlateau() {
        for (String name : List.of("plateau_min_rel", "plateau_max_abs", "plateau_min_abs_eps", "plateau_max_rel")) {
            JsonNode s = settings(name);
            var config = new ReduceLROnPlateau.Config(ReduceLROnPlateau.Mode.valueOf(s.get("mode").asText().toUpperCase()),
                    s.get("factor").asDouble(), s.get("patience").asInt(), s.get("threshold").asDouble(),
                    ReduceLROnPlateau.ThresholdMode.valueOf(s.get("threshold_mode").asText().toUpperCase()), s.get("cooldown").asInt(),
                    s.get("min_lr").asDouble(), s.get("eps").asDouble());
            SGD opt = twoGroups();
            var plateau = new ReduceLROnPlateau(opt, config);
            JsonNode metrics = REF.get(name).get("metrics");
            IntFunction<Double> metric = k -> metrics.get(k).asDouble();
            compare(name, opt, k -> plateau.step(metric.apply(k)));
        }
    }
}
