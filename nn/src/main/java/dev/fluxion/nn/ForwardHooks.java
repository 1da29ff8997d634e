package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A module's forward pre-hooks and hooks, run in registration order around its compute. */
final class ForwardHooks {
    // copy-on-write: a hook may remove itself (or another) while the list is being run
    private final List<Module.ForwardPreHook> pre = new CopyOnWriteArrayList<>();
    private final List<Module.ForwardHook> post = new CopyOnWriteArrayList<>();

    boolean isEmpty() { return pre.isEmpty() && post.isEmpty(); }

    Module.HookHandle addPre(Module.ForwardPreHook hook) {
        if (hook == null) throw new IllegalArgumentException("registerForwardPreHook: hook is null");
        pre.add(hook);
        return handle(pre, hook);
    }

    Module.HookHandle addPost(Module.ForwardHook hook) {
        if (hook == null) throw new IllegalArgumentException("registerForwardHook: hook is null");
        post.add(hook);
        return handle(post, hook);
    }

    // removes this registration only (by identity, so the same lambda registered twice is removed once per handle)
    private static <H> Module.HookHandle handle(List<H> list, H hook) {
        return new Module.HookHandle() {
            private boolean removed;

            @Override public void remove() {
                if (removed) return;
                removed = true;
                for (int i = list.size() - 1; i >= 0; i--) {
                    if (list.get(i) == hook) { list.remove(i); return; }
                }
            }
        };
    }

    /** Each pre-hook sees the inputs as the previous one left them; a null return keeps them. */
    Tensor[] runPre(Module m, Tensor[] inputs) {
        for (Module.ForwardPreHook h : pre) {
            Tensor[] replaced = h.apply(m, inputs.clone());
            if (replaced != null) inputs = replaced;
        }
        return inputs;
    }

    /** Each hook sees the output as the previous one left it; a null return keeps it. */
    Tensor runPost(Module m, Tensor[] inputs, Tensor output) {
        for (Module.ForwardHook h : post) {
            Tensor replaced = h.apply(m, inputs.clone(), output);
            if (replaced != null) output = replaced;
        }
        return output;
    }
}
