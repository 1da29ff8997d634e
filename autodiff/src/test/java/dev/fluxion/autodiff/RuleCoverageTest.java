package dev.fluxion.autodiff;

import dev.fluxion.tensor.AttentionOp;
import dev.fluxion.tensor.Col2ImOp;
import dev.fluxion.tensor.CrossEntropyOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Im2ColOp;
import dev.fluxion.tensor.LayerNormOp;
import dev.fluxion.tensor.MaxPool2dOp;
import dev.fluxion.tensor.Op;
import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.Window2d;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Constructor;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every primitive op (each record the sealed {@link Op} permits, with each value of its enum kind) has a
 * backward rule in {@link Rules} or is declared non-differentiable; every {@link FusedOp} is declared
 * differentiable or not, and each differentiable one passes a float64 gradient check here.
 */
class RuleCoverageTest {
    @Test
    void everyPrimitiveOpHasARuleOrIsDeclaredNonDifferentiable() throws Exception {
        List<Op> ops = new ArrayList<>();
        for (Class<?> c : Op.class.getPermittedSubclasses()) for (Object o : instances(c)) ops.add((Op) o);
        assertTrue(ops.size() > 40, "enumerated " + ops.size() + " ops");
        boolean[] allNeed = {true, true, true, true};
        List<String> missing = new ArrayList<>();
        for (Op op : ops) {
            if (!Rules.isDifferentiable(op)) continue;
            try {
                Rule r = Rules.of(op);
                Save save = r.save(allNeed);
                assertNotNull(save, op.name());
            } catch (IllegalStateException e) {
                missing.add(op + ": " + e.getMessage());
            }
        }
        assertTrue(missing.isEmpty(), "ops without a backward rule (add one to Rules, or declare them in Rules.isDifferentiable): " + missing);
        assertFalse(Rules.isDifferentiable(new Op.Binary(dev.fluxion.tensor.BinaryOp.LT)), "comparisons are declared non-differentiable");
    }

    /** kernel 2x3, stride (2, 1), padding (1, 0), dilation (1, 2): 4x5 inputs give 3x1 outputs. */
    private static final Window2d WINDOW = Window2d.of(2, 3, 2, 1, 1, 0, 1, 2);

    /** A float64 gradient check for each fused op; a new FusedOp fails here until it gets one. */
    private static final Map<Class<? extends FusedOp>, Runnable> FUSED_CHECKS = Map.ofEntries(
            Map.entry(LayerNormOp.class, () -> GradCheck.check("layer_norm", x -> new LayerNormOp(1e-5).apply(x[0], x[1], x[2]), randn(3, 5), randn(5), randn(5))),
            Map.entry(CrossEntropyOp.class, () -> GradCheck.check("cross_entropy", x -> new CrossEntropyOp(3, 0.2).apply(x[0], Tensor.of(new long[] {1, 3, 0}, 3)), randn(3, 4))),
            Map.entry(dev.fluxion.tensor.LinearOp.class, () -> GradCheck.check("linear", x -> new dev.fluxion.tensor.LinearOp().apply(x[0], x[1], x[2]),
                    randn(2, 3, 5), randn(4, 5), randn(4))),
            Map.entry(AttentionOp.class, () -> {
                Tensor mask = Tensor.of(new boolean[] {true, false, true, true, true, true, false, true, true, true, true, true}, 1, 3, 4);
                Tensor drop = Tensor.of(new double[] {2, 0, 2, 2, 0, 2, 2, 2, 2, 2, 0, 2, 2, 2, 2, 0, 2, 2, 2, 2, 2, 2, 2, 0}, 2, 3, 4);
                GradCheck.check("attention", x -> new AttentionOp(0.5, false, false, false).apply(x[0], x[1], x[2]), randn(2, 3, 5), randn(2, 4, 5), randn(2, 4, 3));
                GradCheck.check("attention causal", x -> new AttentionOp(0.5, true, false, false).apply(x[0], x[1], x[2]), randn(2, 3, 5), randn(2, 4, 5), randn(2, 4, 3));
                GradCheck.check("attention masked + dropout", x -> new AttentionOp(0.5, true, true, true).apply(x[0], x[1], x[2], mask, drop),
                        randn(2, 3, 5), randn(2, 4, 5), randn(2, 4, 3));
            }),
            Map.entry(dev.fluxion.tensor.DropoutOp.class, () -> GradCheck.check("dropout", x -> new dev.fluxion.tensor.DropoutOp(0.3, 42).apply(x[0]), randn(4, 6))),
            Map.entry(Im2ColOp.class, () -> GradCheck.check("im2col", x -> new Im2ColOp(WINDOW).apply(x[0]), randn(2, 2, 4, 5))),
            Map.entry(Col2ImOp.class, () -> GradCheck.check("col2im", x -> new Col2ImOp(WINDOW, 2, 2, 4, 5).apply(x[0]), randn(12, 6))),
            Map.entry(MaxPool2dOp.class, () -> GradCheck.check("max_pool2d", x -> new MaxPool2dOp(Window2d.of(3, 3, 2, 2, 1, 1, 1, 1)).apply(x[0]), randn(2, 2, 5, 5))),
            // output is a constant here (no gradient flows to it): the gradient in grad is the ReLU mask
            Map.entry(dev.fluxion.tensor.ReluBackwardOp.class, () -> GradCheck.check("threshold_backward",
                    x -> new dev.fluxion.tensor.ReluBackwardOp().apply(x[0], Tensor.of(new double[] {1, -2, 0, 3, -0.5, 2}, 2, 3)), randn(2, 3))),
            // the input is a constant here (no second derivatives): the gradient in grad is the activation's derivative
            Map.entry(dev.fluxion.tensor.ActivationBackwardOp.class, () -> {
                for (dev.fluxion.tensor.UnaryOp act : new dev.fluxion.tensor.UnaryOp[] {dev.fluxion.tensor.UnaryOp.GELU,
                        dev.fluxion.tensor.UnaryOp.GELU_TANH, dev.fluxion.tensor.UnaryOp.SILU})
                    GradCheck.check(act.opName() + "_backward", x -> new dev.fluxion.tensor.ActivationBackwardOp(act).apply(x[0],
                            Tensor.of(new double[] {1, -2, 0, 3, -0.5, 2}, 2, 3)), randn(2, 3));
            }),
            Map.entry(dev.fluxion.tensor.Conv2dOp.class, () -> {
                GradCheck.check("conv2d", x -> new dev.fluxion.tensor.Conv2dOp(WINDOW, 2).apply(x[0], x[1], x[2]), randn(2, 4, 4, 5), randn(6, 2, 2, 3), randn(6));
                GradCheck.check("conv2d without bias", x -> new dev.fluxion.tensor.Conv2dOp(WINDOW, 1).apply(x[0], x[1]), randn(2, 2, 4, 5), randn(3, 2, 2, 3));
            }),
            Map.entry(dev.fluxion.tensor.AvgPool2dOp.class, () -> GradCheck.check("avg_pool2d", x -> new dev.fluxion.tensor.AvgPool2dOp(WINDOW).apply(x[0]), randn(2, 2, 4, 5))));


    @Test
    void everyFusedOpHasABackwardRuleThatPassesAGradientCheck() throws Exception {
        for (Class<?> c : FusedOp.class.getPermittedSubclasses()) {
            for (Object o : instances(c)) {
                FusedOp op = (FusedOp) o;
                if (!op.differentiable()) continue;                   // e.g. an optimizer step: never recorded
                Runnable check = FUSED_CHECKS.get(c);
                if (check == null) fail("fused op " + op.name() + " (" + c.getSimpleName() + ") has no gradient check in RuleCoverageTest");
                check.run();
            }
        }
    }

    private static Tensor randn(int... shape) { return Tensor.randn(new Generator(7), DType.FLOAT64, shape); }

    /** One instance of record c per value of its enum component (if any), other components at harmless defaults. */
    private static List<Object> instances(Class<?> c) throws Exception {
        RecordComponent[] comps = c.getRecordComponents();
        if (comps == null) throw new AssertionError(c + " is not a record");
        Class<?>[] types = Arrays.stream(comps).map(RecordComponent::getType).toArray(Class<?>[]::new);
        Constructor<?> ctor = c.getDeclaredConstructor(types);
        int enumAt = -1;
        for (int i = 0; i < types.length; i++) if (types[i].isEnum()) enumAt = i;
        Object[] variants = enumAt < 0 ? new Object[] {null} : types[enumAt].getEnumConstants();
        List<Object> out = new ArrayList<>();
        for (Object v : variants) {
            Object[] args = new Object[types.length];
            for (int i = 0; i < types.length; i++) args[i] = i == enumAt ? v : defaultOf(types[i]);
            try {
                out.add(ctor.newInstance(args));
            } catch (java.lang.reflect.InvocationTargetException e) {        // a variant the op refuses (an activation without a fused backward)
                if (!(e.getCause() instanceof IllegalArgumentException)) throw e;
            }
        }
        return out;
    }

    private static Object defaultOf(Class<?> t) {
        if (t == int.class) return 1;                                 // a valid size or group count
        if (t == long.class) return 0L;
        if (t == double.class) return 1e-5;                            // a valid eps or smoothing
        if (t == boolean.class) return false;
        if (t == int[].class) return new int[0];
        if (t == dev.fluxion.tensor.AdamHyper.class) return dev.fluxion.tensor.AdamHyper.ADAMW;
        if (t == List.class) return List.of();
        if (t == Window2d.class) return Window2d.of(2, 2, 1, 1, 0, 0, 1, 1);
        throw new AssertionError("no default for component type " + t);
    }

}
