package dev.fluxion.tensor;

import java.util.Iterator;
import java.util.ServiceLoader;

/** Finds the {@link AutogradEngine} (module fluxion-autodiff) and routes op records to it. */
public final class Autograd {
    private static final AutogradEngine ENGINE;

    static {
        Iterator<AutogradEngine> it = ServiceLoader.load(AutogradEngine.class).iterator();
        ENGINE = it.hasNext() ? it.next() : null;
    }

    private Autograd() {}

    public static boolean isAvailable() { return ENGINE != null; }

    /** Per thread: > 0 while a fused op computes its result with other ops that must not be recorded. */
    private static final ThreadLocal<int[]> PAUSED = ThreadLocal.withInitial(() -> new int[1]);

    /** A scope with no checked exception. */
    interface Pause extends AutoCloseable { @Override void close(); }

    /** Stops recording on this thread until closed (for an op whose default kernel is written with ops). */
    static Pause paused() {
        int[] depth = PAUSED.get();
        depth[0]++;
        return () -> depth[0]--;
    }

    /** True when an op on these inputs must be recorded. */
    static boolean shouldRecord(Tensor... inputs) {
        if (ENGINE == null || PAUSED.get()[0] > 0) return false;
        boolean any = false;
        for (Tensor t : inputs) if (t != null && t.requiresGrad()) { any = true; break; }
        return any && ENGINE.isEnabled();
    }

    /**
     * Whether ops run on this thread now would be recorded (grad mode on, outside a fused op's composed forward),
     * as in a create-graph backward pass. A fused kernel's backward whose result carries no graph declines then,
     * so that the op's rule, written with ops, gives gradients that can be differentiated again.
     */
    public static boolean isRecording() { return ENGINE != null && PAUSED.get()[0] == 0 && ENGINE.isEnabled(); }

    /** Records op on the tape when some input requires gradients; returns the output either way. */
    static Tensor record(Op op, Tensor output, Tensor... inputs) {
        if (shouldRecord(inputs)) ENGINE.record(op, output, inputs);
        return output;
    }

    /** Records a fused op with the state its forward returned, when some input requires gradients. */
    static void recordFused(FusedOp op, FusedOp.Result result, Tensor... inputs) {
        if (shouldRecord(inputs)) ENGINE.record(op, result.output(), inputs, result.state());
    }

    static HookHandle registerHook(Tensor t, java.util.function.UnaryOperator<Tensor> hook) { return engine("registerHook").registerHook(t, hook); }

    static void retainGrad(Tensor t) { engine("retainGrad").retainGrad(t); }

    private static AutogradEngine engine(String op) {
        if (ENGINE == null) throw new IllegalStateException(op + ": no autograd engine; add the fluxion-autodiff module to the classpath");
        return ENGINE;
    }

    static void backward(Tensor root, Tensor gradient, boolean retainGraph) {
        if (ENGINE == null)
            throw new IllegalStateException("backward: no autograd engine; add the fluxion-autodiff module to the classpath");
        // backward ops run in the dtypes their forward saw (the recorded casts carry gradients across), never
        // re-cast by an autocast scope the caller may still have open around loss.backward()
        try (Autocast off = Autocast.disabled()) {
            ENGINE.backward(root, gradient, retainGraph);
        }
    }
}
