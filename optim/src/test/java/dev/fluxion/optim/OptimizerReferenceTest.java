package dev.fluxion.optim;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/**
 * Every optimizer against torch.optim (single-tensor path) on the fixed float32 problem of
 * {@link Reference}: 20 steps with Fluxion autodiff, parameters compared after every step (within
 * {@link Reference#RTOL} of the tensor's scale) and the optimizer state after the last (within
 * {@link Reference#STATE_RTOL}). The hyperparameters the
 * script used are read back from the file and checked against this optimizer's state dict, so the Java and
 * Python configurations cannot drift apart.
 */
class OptimizerReferenceTest {

    private static List<Tensor> all(Map<String, Tensor> p) { return List.of(p.get("W"), p.get("b"), p.get("c")); }

    // ---------------------------------------------------------------- SGD

    @Test void sgdPlain() { check("sgd_plain", p -> new SGD(all(p), SGD.Config.DEFAULT.withLr(0.05)), null); }

    @Test void sgdMomentum() { check("sgd_momentum", p -> new SGD(all(p), SGD.Config.DEFAULT.withLr(0.05).withMomentum(0.9)), null); }

    @Test void sgdNesterov() {
        check("sgd_nesterov", p -> new SGD(all(p), SGD.Config.DEFAULT.withLr(0.05).withMomentum(0.9).withNesterov(true)), null);
    }

    @Test void sgdDampeningWeightDecay() {
        check("sgd_dampening_weight_decay",
                p -> new SGD(all(p), SGD.Config.DEFAULT.withLr(0.05).withMomentum(0.9).withDampening(0.3).withWeightDecay(0.01)), null);
    }

    @Test void sgdTwoGroupsWithStepSchedule() {
        var cfg = SGD.Config.DEFAULT.withLr(0.05).withMomentum(0.9);
        check("sgd_groups_step_lr", p -> new SGD(List.of(
                        new ParamGroup<>(List.of(p.get("W"), p.get("b")), cfg),
                        new ParamGroup<>(List.of(p.get("c")), cfg.withLr(0.02).withMomentum(0.5).withWeightDecay(0.1)))),
                Schedule.stepDecay(5, 0.5));
    }

    // ---------------------------------------------------------------- AdaGrad

    @Test void adagradPlain() { check("adagrad_plain", p -> new AdaGrad(all(p), AdaGrad.Config.DEFAULT.withLr(0.1)), null); }

    @Test void adagradLrDecay() {
        check("adagrad_lr_decay", p -> new AdaGrad(all(p), AdaGrad.Config.DEFAULT.withLr(0.1).withLrDecay(0.01)
                .withInitialAccumulatorValue(0.1).withWeightDecay(0.01).withEps(1e-3)), null);
    }

    // ---------------------------------------------------------------- RMSProp

    @Test void rmspropPlain() { check("rmsprop_plain", p -> new RMSProp(all(p), RMSProp.Config.DEFAULT.withLr(0.01)), null); }

    @Test void rmspropCentered() {
        check("rmsprop_centered", p -> new RMSProp(all(p), RMSProp.Config.DEFAULT.withLr(0.01).withCentered(true)), null);
    }

    @Test void rmspropMomentum() {
        check("rmsprop_momentum", p -> new RMSProp(all(p), RMSProp.Config.DEFAULT.withLr(0.01).withAlpha(0.9).withMomentum(0.9)
                .withWeightDecay(0.01)), null);
    }

    @Test void rmspropCenteredMomentum() {
        check("rmsprop_centered_momentum", p -> new RMSProp(all(p), RMSProp.Config.DEFAULT.withLr(0.005).withMomentum(0.5)
                .withCentered(true).withEps(1e-3)), null);
    }

    // ---------------------------------------------------------------- Adam, AdamW

    @Test void adamPlain() { check("adam_plain", p -> new Adam(all(p), Adam.Config.DEFAULT.withLr(0.01)), null); }

    @Test void adamAmsgrad() {
        check("adam_amsgrad", p -> new Adam(all(p), Adam.Config.DEFAULT.withLr(0.05).withBetas(0.8, 0.95).withAmsgrad(true)), null);
    }

    @Test void adamWeightDecayLargeEps() {
        check("adam_weight_decay_eps", p -> new Adam(all(p), Adam.Config.DEFAULT.withLr(0.01).withWeightDecay(0.1).withEps(1e-3)), null);
    }

    @Test void adamTwoGroupsWithWarmupCosine() {
        var cfg = Adam.Config.DEFAULT.withLr(0.02);
        check("adam_groups_warmup_cosine", p -> new Adam(List.of(
                        new ParamGroup<>(List.of(p.get("W")), cfg),
                        new ParamGroup<>(List.of(p.get("b"), p.get("c")), cfg.withLr(0.01).withWeightDecay(0.05)))),
                Schedule.warmupCosine(5, 15, 0.001));
    }

    @Test void adamwPlain() { check("adamw_plain", p -> new AdamW(all(p), AdamW.Config.DEFAULT.withLr(0.01)), null); }

    @Test void adamwAmsgrad() {
        check("adamw_amsgrad", p -> new AdamW(all(p), AdamW.Config.DEFAULT.withLr(0.05).withBetas(0.9, 0.9).withWeightDecay(0.1).withAmsgrad(true)), null);
    }

    @Test void adamwWithGradientClipping() {
        check("adamw_clip", p -> new AdamW(all(p), AdamW.Config.DEFAULT.withLr(0.01)), null);
    }

    // ---------------------------------------------------------------- the run

    @SuppressWarnings("try")   // scopes used only for what closing them does
    private static void check(String name, Function<Map<String, Tensor>, Optimizer<?, ?>> make, Schedule schedule) {
        JsonNode ref = Reference.load(name + ".json");
        Map<String, Tensor> p = Reference.freshParams();
        Optimizer<?, ?> opt = make.apply(p);
        checkGroups(name, ref.get("groups"), opt, p);
        LrScheduler sched = null;
        if (ref.get("schedule").isNull()) {
            assertEquals(null, schedule, name + ": the reference has no schedule");
        } else {
            assertEquals(schedule(ref.get("schedule")), schedule, name + ": schedule");
            sched = new LrScheduler(opt, schedule);
        }
        JsonNode clip = ref.get("clip_max_norm");
        JsonNode steps = ref.get("steps");
        double worstParam = 0;
        for (int k = 0; k < steps.size(); k++) {
            JsonNode step = steps.get(k);
            opt.zeroGrad();
            try (var scope = Scope.open()) {             // frees the step's temporaries and gradients; state must survive
                Tensor loss = Reference.loss(p);
                double expectedLoss = step.get("loss").asDouble();
                assertEquals(expectedLoss, loss.item(), Reference.RTOL * Math.abs(expectedLoss), name + " step " + (k + 1) + ": loss");
                loss.backward();
                if (!clip.isNull()) Clipping.clipGradNorm(all(p), clip.asDouble());
                for (int g = 0; g < opt.groupCount(); g++) {
                    double lr = step.get("lr").get(g).asDouble();
                    assertEquals(lr, opt.lr(g), 1e-12 * lr, name + " step " + (k + 1) + ": lr of group " + g);
                }
                opt.step();
                if (sched != null) sched.step();
            }
            for (String n : p.keySet())
                worstParam = Math.max(worstParam,
                        Reference.assertClose(name + " step " + (k + 1) + " " + n, Reference.tensor(step.get("params").get(n)), p.get(n)));
        }
        double worstState = checkState(name, ref.get("state"), opt.stateDict());
        System.out.printf("%-28s worst error against PyTorch: parameters %.2e, state %.2e%n", name, worstParam, worstState);
    }

    /** Groups hold the parameters the script put in them, and every PyTorch hyperparameter equals ours (and no more). */
    private static void checkGroups(String name, JsonNode groups, Optimizer<?, ?> opt, Map<String, Tensor> p) {
        assertEquals(groups.size(), opt.groupCount(), name + ": group count");
        Map<String, Tensor> sd = opt.stateDict();
        for (int g = 0; g < groups.size(); g++) {
            JsonNode names = groups.get(g).get("params");
            List<Tensor> ours = opt.params(g);
            assertEquals(names.size(), ours.size(), name + ": size of group " + g);
            for (int i = 0; i < names.size(); i++) assertSame(p.get(names.get(i).asText()), ours.get(i), name + ": group " + g + " param " + i);
            Set<String> expectedKeys = new TreeSet<>(), ourKeys = new TreeSet<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = groups.get(g).get("hyper").fields(); it.hasNext(); ) {
                var e = it.next();
                String key = "group." + g + "." + e.getKey();
                expectedKeys.add(key);
                Tensor ourValue = sd.get(key);
                assertNotNull(ourValue, name + ": our state dict has no " + key);
                double expected = e.getValue().isBoolean() ? (e.getValue().asBoolean() ? 1 : 0) : e.getValue().asDouble();
                assertEquals(expected, ourValue.item(), 0, name + ": " + key);
            }
            for (String k : sd.keySet()) if (k.startsWith("group." + g + ".") && !k.endsWith(".params")) ourKeys.add(k);
            assertEquals(expectedKeys, ourKeys, name + ": hyperparameters of group " + g);
        }
    }

    /** Our state dict after the last step against PyTorch's optimizer state (same names, same numbering). */
    private static double checkState(String name, JsonNode state, Map<String, Tensor> sd) {
        Set<String> expectedKeys = new TreeSet<>(), ourKeys = new TreeSet<>();
        double worst = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = state.fields(); it.hasNext(); ) {
            var param = it.next();
            for (Iterator<Map.Entry<String, JsonNode>> f = param.getValue().fields(); f.hasNext(); ) {
                var e = f.next();
                String key = "state." + param.getKey() + "." + e.getKey();
                expectedKeys.add(key);
                Tensor ours = sd.get(key);
                assertNotNull(ours, name + ": our state dict has no " + key);
                if (e.getKey().equals("step")) assertEquals(e.getValue().asLong(), ours.toLongArray()[0], name + ": " + key);
                else worst = Math.max(worst, Reference.assertClose(name + ": " + key, Reference.tensor(e.getValue()), ours, Reference.STATE_RTOL));
            }
        }
        for (String k : sd.keySet()) if (k.startsWith("state.")) ourKeys.add(k);
        assertEquals(expectedKeys, ourKeys, name + ": state entries");
        return worst;
    }

    static Schedule schedule(JsonNode s) {
        return switch (s.get("kind").asText()) {
            case "step" -> Schedule.stepDecay(s.get("step_size").asLong(), s.get("gamma").asDouble());
            case "warmup_cosine" -> Schedule.warmupCosine(s.get("warmup_steps").asLong(), s.get("total_steps").asLong(), s.get("min_lr").asDouble());
            default -> throw new IllegalArgumentException("unknown schedule kind " + s.get("kind"));
        };
    }

}
