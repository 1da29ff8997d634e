package dev.fluxion.autodiff;

import dev.fluxion.tensor.Tensor;

import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Hooks that run when a leaf's gradient is complete for the current backward pass (every tape entry that
 * feeds it has run), as PyTorch's post-accumulate-grad hooks. DDP uses them to start a bucket's
 * all-reduce while the rest of backward is still running. Held weakly: a collected tensor drops its hooks.
 */
final class GradHooks {
    private static final Map<Tensor, List<Consumer<Tensor>>> HOOKS = java.util.Collections.synchronizedMap(new WeakHashMap<>());

    private GradHooks() {}

    static Runnable add(Tensor leaf, Consumer<Tensor> hook) {
        if (leaf.gradFn() != null || !leaf.requiresGrad())
            throw new IllegalArgumentException("onGradReady: hooks attach to leaves that require grad (parameters), not to op outputs");
        List<Consumer<Tensor>> list = HOOKS.computeIfAbsent(leaf, k -> new CopyOnWriteArrayList<>());
        list.add(hook);
        return () -> list.remove(hook);
    }

    /** Calls leaf's hooks with the leaf (its grad() is final for this pass). */
    static void fire(Tensor leaf) {
        List<Consumer<Tensor>> list = HOOKS.get(leaf);
        if (list != null) for (Consumer<Tensor> h : list) h.accept(leaf);
    }
}
