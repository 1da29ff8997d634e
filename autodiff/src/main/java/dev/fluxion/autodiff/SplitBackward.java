package dev.fluxion.autodiff;

import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Backward in two parts, for zero-bubble pipeline schedules: first only what leads to some given input
 * tensors (the entries on a path from the root to them, asked for those paths' gradients only), then, when
 * {@link Autodiff.WeightGradients#run()} is called, the rest: the weight gradients that those entries
 * skipped, and every entry that leads only to weights. Each rule runs at most twice, each time for a
 * disjoint set of its inputs, and rules that check {@code needsGrad} (matmul, the elementwise ops) do only
 * the work for that set, so the weight-gradient matmuls really move to the second part.
 */
final class SplitBackward implements Autodiff.WeightGradients {
    private final List<Entry> order;                    // reachable from the root, latest first
    private final Set<Entry> toInputs;                   // entries with a path to an input
    private final Map<Entry, Tensor> outputGrads;        // the output gradient each of those got in the first part
    private final Map<Entry, boolean[]> firstPart;       // and the inputs it delivered to then
    private final Map<Tensor, Integer> pendingLeaf;
    private final Entry start;
    private final Tensor seed;
    private boolean done;

    private SplitBackward(List<Entry> order, Set<Entry> toInputs, Map<Entry, Tensor> outputGrads, Map<Entry, boolean[]> firstPart, Map<Tensor, Integer> pendingLeaf, Entry start, Tensor seed) {
        this.start = start;
        this.seed = seed;
        this.order = order;
        this.toInputs = toInputs;
        this.outputGrads = outputGrads;
        this.firstPart = firstPart;
        this.pendingLeaf = pendingLeaf;
    }

    static Autodiff.WeightGradients inputsFirst(Tensor root, Tensor gradient, Tensor[] inputs) {
        Set<Tensor> targets = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (Tensor t : inputs) {
            if (t.gradFn() != null || !t.requiresGrad())
                throw new IllegalArgumentException("backwardInputs: input " + Shape.str(t.shape()) + " must be a leaf that requires grad "
                        + "(as a pipeline stage's received activation marked requiresGrad(true)); it " + (t.gradFn() != null ? "has a gradFn" : "does not require grad"));
            targets.add(t);
        }
        if (!root.requiresGrad()) throw new IllegalStateException("backwardInputs: the root " + Shape.str(root.shape()) + " does not require grad");
        if (gradient != null && !Arrays.equals(gradient.shape(), root.shape()))
            throw new IllegalArgumentException("backwardInputs: gradient shape " + Shape.str(gradient.shape()) + " does not match root shape " + Shape.str(root.shape()));
        if (gradient == null && root.numel() != 1)
            throw new IllegalArgumentException("backwardInputs: root has shape " + Shape.str(root.shape()) + "; without a gradient it must have one element");
        Tensor seed = gradient == null ? Tensor.onesLike(root) : gradient.detach();
        if (!(root.gradFn() instanceof Entry start)) throw new IllegalArgumentException("backwardInputs: the root is a leaf; nothing to split");
        List<Entry> order = Engine.reachable(start);
        Set<Entry> toInputs = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (int k = order.size() - 1; k >= 0; k--) {           // producers first: a path to an input runs through them
            Entry e = order.get(k);
            if (e.isReleased()) e.backward(null);                 // throws the "already freed" error
            if ("checkpoint".equals(e.name))
                throw new UnsupportedOperationException("backwardInputs: tape entry #" + e.seq + " is a checkpoint, whose backward accumulates its "
                        + "weights' gradients itself; a split backward would count them twice. Run the stage without checkpointing");
            for (Object n : e.next())
                if (n instanceof Tensor leaf && targets.contains(leaf) || n instanceof Entry p && toInputs.contains(p)) { toInputs.add(e); break; }
        }
        Map<Tensor, Integer> pendingLeaf = new IdentityHashMap<>();
        for (Entry e : order) for (Object n : e.next()) if (n instanceof Tensor leaf) pendingLeaf.merge(leaf, 1, Integer::sum);
        Map<Entry, Tensor> grads = new IdentityHashMap<>(), kept = new IdentityHashMap<>();
        Map<Entry, boolean[]> firstPart = new IdentityHashMap<>();
        grads.put(start, seed);
        boolean was = Engine.setEnabled(false);
        try {
            for (Entry e : order) {
                if (!toInputs.contains(e)) continue;
                Tensor g = grads.remove(e);
                if (g == null) continue;
                kept.put(e, g);
                Object[] next = e.next();
                boolean[] wanted = new boolean[next.length];
                for (int i = 0; i < next.length; i++) wanted[i] = next[i] instanceof Tensor t && targets.contains(t) || next[i] instanceof Entry p && toInputs.contains(p);
                firstPart.put(e, wanted);
                deliver(e.backward(g, wanted), next, wanted, grads, pendingLeaf);
            }
        } finally {
            Engine.setEnabled(was);
        }
        return new SplitBackward(order, toInputs, kept, firstPart, pendingLeaf, start, seed);
    }

    @Override public void run() {
        if (done) throw new IllegalStateException("WeightGradients.run: already ran; each split backward computes its weight gradients once");
        done = true;
        Map<Entry, Tensor> grads = new IdentityHashMap<>();
        if (!toInputs.contains(start)) grads.put(start, seed);          // no path to an input: all of it is weight work
        boolean was = Engine.setEnabled(false);
        try {
            for (Entry e : order) {
                Object[] next = e.next();
                boolean[] wanted = new boolean[next.length];
                Tensor g;
                if (toInputs.contains(e)) {                       // the inputs the first part skipped
                    g = outputGrads.get(e);
                    boolean any = false;
                    for (int i = 0; i < next.length; i++) {
                        wanted[i] = g != null && next[i] != null && !firstPart.get(e)[i];
                        any |= wanted[i];
                    }
                    if (g == null || !any) continue;
                } else {
                    g = grads.remove(e);
                    if (g == null) continue;
                    for (int i = 0; i < next.length; i++) wanted[i] = next[i] != null;
                }
                deliver(e.backward(g, wanted), next, wanted, grads, pendingLeaf);
            }
        } finally {
            Engine.setEnabled(was);
            for (Entry e : order) if (!e.isReleased()) e.release();
        }
    }

    private static void deliver(Tensor[] inGrads, Object[] next, boolean[] wanted, Map<Entry, Tensor> grads, Map<Tensor, Integer> pendingLeaf) {
        for (int i = 0; i < next.length; i++) {
            if (!wanted[i]) continue;
            Tensor gi = inGrads[i];
            if (next[i] instanceof Tensor leaf) {
                if (gi != null) Engine.accumulateLeaf(leaf, gi);
                if (pendingLeaf.merge(leaf, -1, Integer::sum) == 0) GradHooks.fire(leaf);
            } else if (next[i] instanceof Entry producer && gi != null) {
                grads.merge(producer, gi, Tensor::add);
            }
        }
    }
}
