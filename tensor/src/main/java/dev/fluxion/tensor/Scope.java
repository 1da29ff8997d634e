package dev.fluxion.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Frees the temporaries of a block deterministically. Every tensor created on this thread while the scope
 * is open is closed when it closes, except those passed to {@link #keep}. Scopes nest; closing one that is
 * not the innermost is an error.
 *
 * <pre>{@code
 * try (var scope = Scope.open()) {
 *     Tensor loss = model.forward(x).sub(y).pow(2).mean();
 *     loss.backward();
 *     lossValue = loss.item();
 * }   // every intermediate of the step is freed here
 * }</pre>
 */
public final class Scope implements AutoCloseable {
    private static final ThreadLocal<ArrayDeque<Scope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

    private final List<Tensor> tracked = new ArrayList<>();
    private final Map<Tensor, Boolean> kept = new IdentityHashMap<>();
    private boolean closed;

    private Scope() {}

    /** Opens a scope on this thread, nested in the innermost open one; close it (try-with-resources) on the same thread. */
    public static Scope open() {
        Scope s = new Scope();
        STACK.get().push(s);
        return s;
    }

    static void track(Tensor t) {
        ArrayDeque<Scope> stack = STACK.get();
        if (!stack.isEmpty()) stack.peek().tracked.add(t);
    }

    /** Keeps t alive past this scope: it moves to the enclosing scope, or is untracked if there is none. */
    public <T extends Tensor> T keep(T t) {
        kept.put(t, Boolean.TRUE);
        return t;
    }

    /**
     * Tracks t in this thread's innermost open scope as if it had been made here (no-op without one): for a
     * tensor made on another thread, untracked there, and handed over (a DataLoader worker's batch), so that the
     * receiving step's scope frees it.
     */
    public static <T extends Tensor> T adopt(T t) {
        track(t);
        return t;
    }

    /** True when this scope will free (or hand on) t when it closes: t was made in it or kept into it by a nested scope. */
    public boolean tracks(Tensor t) {
        for (int i = tracked.size() - 1; i >= 0; i--) if (tracked.get(i) == t) return true;   // recent tensors are at the end
        return false;
    }

    /** Removes t from every open scope of this thread, so that it outlives them all (parameters, gradients, state). */
    public static <T extends Tensor> T escape(T t) {
        // A tensor is tracked by at most one scope (the one it was made in, or the one keep() moved it to), usually
        // the innermost and near the end of its list. Marking it kept instead would carry it up to the outermost
        // scope, which would then hold every escaped tensor (each step's gradients and optimizer state) until it closes.
        for (Scope s : STACK.get()) {
            if (s.untrack(t)) break;
        }
        return t;
    }

    private boolean untrack(Tensor t) {
        for (int i = tracked.size() - 1; i >= 0; i--) {
            if (tracked.get(i) == t) {
                tracked.remove(i);
                kept.remove(t);
                return true;
            }
        }
        return false;
    }

    @Override public void close() {
        if (closed) return;
        ArrayDeque<Scope> stack = STACK.get();
        if (stack.peek() != this) throw new IllegalStateException("Scope.close: this scope is not the innermost open scope of the thread");
        stack.pop();
        closed = true;
        Scope parent = stack.peek();
        for (Tensor t : tracked) {
            if (kept.containsKey(t)) {
                if (parent != null) parent.tracked.add(t);
            } else {
                t.free("its Scope closed");
            }
        }
        tracked.clear();
    }
}
