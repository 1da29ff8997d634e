package dev.fluxion.autodiff;

import dev.fluxion.tensor.HookHandle;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.lang.ref.WeakReference;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;

/**
 * Gradient hooks on tensors (torch's register_hook) and retained gradients of non-leaf tensors (retain_grad).
 * A non-leaf tensor's hooks live with the tape entry that produced it (one entry per output tensor) and
 * run on its total gradient before that entry's rule; a leaf's run on its total gradient for the pass
 * before it is accumulated. Held weakly, as {@link GradHooks}: a collected tensor or entry drops its hooks.
 */
final class TensorHooks {
    private static final Map<Object, List<UnaryOperator<Tensor>>> HOOKS = Collections.synchronizedMap(new WeakHashMap<>());  // Entry or leaf Tensor
    private static final Map<Entry, WeakReference<Tensor>> RETAINED = Collections.synchronizedMap(new WeakHashMap<>());

    private TensorHooks() {}

    static HookHandle register(Tensor t, UnaryOperator<Tensor> hook) {
        if (hook == null) throw new IllegalArgumentException("registerHook: hook is null");
        if (!t.requiresGrad())
            throw new IllegalStateException("registerHook: the tensor " + Shape.str(t.shape()) + " does not require grad, so no gradient will reach the hook");
        List<UnaryOperator<Tensor>> list = HOOKS.computeIfAbsent(key(t), k -> new CopyOnWriteArrayList<>());
        list.add(hook);
        return () -> list.remove(hook);
    }

    static void retainGrad(Tensor t) {
        if (!t.requiresGrad())
            throw new IllegalStateException("retainGrad: the tensor " + Shape.str(t.shape()) + " does not require grad; it will never have a gradient");
        if (t.gradFn() instanceof Entry e) RETAINED.put(e, new WeakReference<>(t));   // a leaf keeps its gradient anyway
    }

    private static Object key(Tensor t) { return t.gradFn() instanceof Entry e ? e : t; }

    static boolean hasHooks(Tensor leaf) {
        List<UnaryOperator<Tensor>> list = HOOKS.get(leaf);
        return list != null && !list.isEmpty();
    }

    /** g after the hooks of leaf or entry key, each seeing the previous one's result. */
    static Tensor run(Object key, Tensor g) {
        List<UnaryOperator<Tensor>> list = HOOKS.get(key);
        if (list == null) return g;
        for (UnaryOperator<Tensor> h : list) {
            Tensor r = h.apply(g);
            if (r == null) continue;
            if (!Arrays.equals(r.shape(), g.shape()))
                throw new IllegalStateException("tensor hook returned a gradient of shape " + Shape.str(r.shape()) + " for a gradient of shape "
                        + Shape.str(g.shape()) + "; a hook may replace the gradient only with one of the same shape");
            g = r;
        }
        return g;
    }

    /** The gradient of e's output once complete: its hooks run, then (when retain) a retained tensor accumulates it. */
    static Tensor atEntry(Entry e, Tensor g, boolean retain) {
        g = run(e, g);
        if (retain) {
            WeakReference<Tensor> ref = RETAINED.get(e);
            Tensor t = ref == null ? null : ref.get();
            if (t != null) Engine.accumulateLeaf(t, g.detach());
        }
        return g;
    }
}
