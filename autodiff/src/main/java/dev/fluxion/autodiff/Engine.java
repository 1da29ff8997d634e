package dev.fluxion.autodiff;

import dev.fluxion.tensor.AutogradEngine;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.HookHandle;
import dev.fluxion.tensor.Op;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Records ops on the thread's {@link Tape} and runs backward: collect the entries reachable from the
 * root's {@code gradFn} through each entry's links to the entries that produced its inputs, run their
 * rules in reverse forward order, accumulate into {@code grad()} of the leaves, release each entry as soon
 * as its rule has run.
 */
public final class Engine implements AutogradEngine {
    private static final ThreadLocal<Tape> TAPE = ThreadLocal.withInitial(Tape::new);
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[] {true});

    static Tape tape() { return TAPE.get(); }

    static boolean setEnabled(boolean on) {
        boolean[] flag = ENABLED.get();
        boolean was = flag[0];
        flag[0] = on;
        return was;
    }

    @Override public boolean isEnabled() { return ENABLED.get()[0]; }

    static boolean isGradEnabledNow() { return ENABLED.get()[0]; }

    /** Per thread: while true every entry keeps all its inputs and its output (the tape before saved state), to measure the difference. */
    private static final ThreadLocal<boolean[]> KEEP_ALL = ThreadLocal.withInitial(() -> new boolean[1]);

    static boolean setKeepAll(boolean on) {
        boolean[] flag = KEEP_ALL.get();
        boolean was = flag[0];
        flag[0] = on;
        return was;
    }

    private static final Tensor[] NO_STATE = new Tensor[0];

    @Override public void record(Op op, Tensor output, Tensor[] inputs) {
        record(op.name(), Rules.of(op), output, inputs, NO_STATE);
    }

    @Override public void record(FusedOp op, Tensor output, Tensor[] inputs, Tensor[] state) {
        boolean hasState = state.length > 0;
        record(op.name(), Rule.of(op::save, (s, g) -> FusedSecondOrder.backward(op, hasState, s, g)), output, inputs, state);
    }

    static void record(String name, Rule rule, Tensor output, Tensor[] inputs, Tensor[] state) {
        if (output.gradFn() != null)         // a view op can return its input unchanged; never re-record a tensor
            return;
        Entry e = new Entry(name, rule, inputs, output, state, KEEP_ALL.get()[0]);
        output.setGradFn(e);
        TAPE.get().append(e);
    }

    @Override public void backward(Tensor root, Tensor gradient, boolean retainGraph) {
        if (!root.requiresGrad())
            throw new IllegalStateException("backward: the tensor " + Shape.str(root.shape()) + " does not require grad and has no gradFn; "
                    + "mark a leaf with requiresGrad(true) before computing it");
        Tensor seed;
        if (gradient == null) {
            if (root.numel() != 1)
                throw new IllegalArgumentException("backward: output has shape " + Shape.str(root.shape()) + "; backward() without a gradient needs a "
                        + "one-element output; pass backward(gradient) with a gradient of that shape");
            seed = Tensor.onesLike(root);
        } else {
            if (!Arrays.equals(gradient.shape(), root.shape()))
                throw new IllegalArgumentException("backward: gradient shape " + Shape.str(gradient.shape()) + " does not match output shape " + Shape.str(root.shape()));
            if (gradient.dtype() != root.dtype())
                throw new IllegalArgumentException("backward: gradient dtype " + gradient.dtype() + " does not match output dtype " + root.dtype());
            seed = gradient.detach();
        }
        boolean was = setEnabled(false);
        int[] depth = DEPTH.get();
        depth[0]++;
        boolean ok = false;
        try {
            run(root, seed, retainGraph);
            ok = true;
        } finally {
            setEnabled(was);
            if (--depth[0] == 0) drainCallbacks(ok);
        }
    }

    // ---------------------------------------------------------------- end-of-backward callbacks

    private static final ThreadLocal<int[]> DEPTH = ThreadLocal.withInitial(() -> new int[1]);
    private static final ThreadLocal<List<Runnable>> CALLBACKS = ThreadLocal.withInitial(ArrayList::new);

    static void queueCallback(Runnable callback) {
        if (DEPTH.get()[0] == 0)
            throw new IllegalStateException("queueCallback: no backward pass is running on this thread; call it from a backward rule or a gradient hook");
        CALLBACKS.get().add(callback);
    }

    /** Runs the queued callbacks in order once the outermost backward has finished (callbacks may queue more); drops them after a failure. */
    private static void drainCallbacks(boolean ok) {
        List<Runnable> queued = CALLBACKS.get();
        if (!ok) {
            queued.clear();
            return;
        }
        for (int i = 0; i < queued.size(); i++) {
            try {
                queued.get(i).run();
            } catch (RuntimeException | Error e) {
                queued.clear();
                throw e;
            }
        }
        queued.clear();
    }

    @Override public HookHandle registerHook(Tensor t, UnaryOperator<Tensor> hook) { return TensorHooks.register(t, hook); }

    @Override public void retainGrad(Tensor t) { TensorHooks.retainGrad(t); }

    private static void run(Tensor root, Tensor seed, boolean retainGraph) {
        if (!(root.gradFn() instanceof Entry start)) {
            accumulateLeaf(root, TensorHooks.run(root, seed));
            GradHooks.fire(root);
            return;
        }
        Map<Entry, Tensor> grads = new IdentityHashMap<>();   // each entry's output gradient, summed over its uses
        grads.put(start, seed);
        List<Entry> order = reachable(start);
        // how many entries still have to deliver into each leaf: its gradient is final when this reaches 0
        Map<Tensor, Integer> pendingLeaf = new IdentityHashMap<>();
        Map<Tensor, Tensor> hooked = new IdentityHashMap<>();   // leaves with tensor hooks: their gradient so far
        for (Entry e : order)
            if (!e.isReleased())
                for (Object n : e.next()) if (n instanceof Tensor leaf) pendingLeaf.merge(leaf, 1, Integer::sum);
        // Gradients the engine made itself (sums, slice buffers): nothing else holds them, so more contributions are added in place.
        Map<Tensor, List<SliceRule>> owned = new IdentityHashMap<>();   // value: the slices written into zeros so far, or DENSE
        for (Entry e : order) {
            if (e.isReleased()) e.backward(null);  // throws the "already freed" error
            Tensor g = grads.remove(e);
            if (g == null) continue;
            g = TensorHooks.atEntry(e, g, true);
            Object[] next = e.next();
            if (e.rule() instanceof SliceRule slice && next.length == 1 && next[0] instanceof Entry producer
                    && g.dtype() == e.dtype(0) && SliceRule.canAccumulate(g)) {
                sliceInto(slice, e, producer, g, grads, owned);      // one gradient buffer for all the producer's slices
                if (!retainGraph) e.release();
                continue;
            }
            long madeFrom = Tensor.nextSerial();
            Tensor[] inGrads = e.backward(g);
            for (int i = 0; i < next.length; i++) {
                Tensor gi = inGrads[i];
                if (next[i] instanceof Tensor leaf) {
                    if (gi != null && TensorHooks.hasHooks(leaf)) hooked.merge(leaf, gi, Tensor::add);   // its hooks see the pass's total
                    else if (gi != null && leaf.grad() == null && !e.rule().userDefined() && adoptable(gi, madeFrom, inGrads, i))
                        leaf.setGrad(Scope.escape(gi));                     // the rule's fresh result, not copied
                    else if (gi != null) accumulateLeaf(leaf, gi);
                    if (pendingLeaf.merge(leaf, -1, Integer::sum) == 0) {
                        Tensor total = hooked.remove(leaf);
                        if (total != null) accumulateLeaf(leaf, TensorHooks.run(leaf, total));
                        GradHooks.fire(leaf);
                    }
                } else if (next[i] instanceof Entry producer && gi != null) {
                    grads.merge(producer, gi, (sum, more) -> accumulate(sum, more, owned));
                }
            }
            if (!retainGraph) e.release();
        }
    }

    /** An owned gradient that got more than slices of zeros: every element may be non-zero. */
    private static final List<SliceRule> DENSE = List.of();

    /** sum + more: in place when the engine owns sum (and not while building a graph of the backward), else a new owned tensor. */
    private static Tensor accumulate(Tensor sum, Tensor more, Map<Tensor, List<SliceRule>> owned) {
        if (owned.containsKey(sum) && sum.dtype() == more.dtype() && java.util.Arrays.equals(sum.shape(), more.shape()) && !isGradEnabledNow()) {
            owned.put(sum, DENSE);
            return sum.add_(more);
        }
        Tensor out = sum.add(more);
        owned.put(out, DENSE);
        return out;
    }

    /**
     * The slice entry e's gradient g, written into its region of the producer's gradient: made as zeros (or copied,
     * if the engine does not own it). A region that no earlier slice of these zeros touched is copied, not added.
     */
    private static void sliceInto(SliceRule slice, Entry e, Entry producer, Tensor g, Map<Entry, Tensor> grads, Map<Tensor, List<SliceRule>> owned) {
        Tensor sum = grads.get(producer);
        List<SliceRule> written = sum == null ? null : owned.get(sum);
        if (sum == null) {
            sum = Tensor.zeros(e.dtype(0), e.device(0), e.shape(0));
            written = new ArrayList<>();
        } else if (written == null) {
            sum = sum.copy();
            written = DENSE;
        }
        boolean untouched = written != DENSE;
        for (SliceRule w : written) untouched &= slice.disjointFrom(w);
        slice.addInto(sum, g, untouched);
        if (written != DENSE) written.add(slice);
        owned.put(sum, written);
        grads.put(producer, sum);
    }

    /** Entries reachable from start through the next links, latest first. */
    static List<Entry> reachable(Entry start) {
        List<Entry> out = new ArrayList<>();
        Map<Entry, Boolean> seen = new IdentityHashMap<>();
        List<Entry> stack = new ArrayList<>(List.of(start));
        seen.put(start, true);
        while (!stack.isEmpty()) {
            Entry e = stack.remove(stack.size() - 1);
            out.add(e);
            if (e.isReleased()) continue;
            for (Object n : e.next())
                if (n instanceof Entry p && seen.put(p, true) == null) stack.add(p);
        }
        out.sort(Comparator.comparingLong((Entry e) -> e.seq).reversed());
        return out;
    }

    /**
     * Whether a leaf's first gradient can be the rule's result itself rather than a copy, as PyTorch steals a
     * gradient buffer nothing else holds: the rule made it during this call (so it is not the seed, an input or a
     * tensor the rule kept from before; rules users write are never trusted with this, see the caller), no other
     * open tensor views its storage, the rule did not return it for another input too, and no graph of the
     * backward is being built. Saves a pass over every parameter's gradient.
     */
    private static boolean adoptable(Tensor gi, long madeFrom, Tensor[] inGrads, int i) {
        if (gi.serial() < madeFrom || gi.gradFn() != null || isGradEnabledNow() || !gi.ownsStorage()) return false;
        for (int j = 0; j < inGrads.length; j++) if (j != i && inGrads[j] == gi) return false;
        return true;
    }

    /** Adds g into leaf.grad(); a first gradient is copied here, so it never aliases a temporary (see {@link #adoptable}). */
    static void accumulateLeaf(Tensor leaf, Tensor g) {
        Tensor current = leaf.grad();
        if (current == null) leaf.setGrad(Scope.escape(g.copy()));
        else current.add_(g);
    }
}
