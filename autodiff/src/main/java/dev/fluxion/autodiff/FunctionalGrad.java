package dev.fluxion.autodiff;

import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * torch.autograd.grad: the gradients of outputs with respect to chosen inputs (leaves or intermediate
 * tensors), returned instead of accumulated into grad(). Runs only the entries on a path from an output to
 * an input, asking each only for the input gradients on such paths. With createGraph the rules run with
 * recording on, so the returned gradients are themselves differentiable (second derivatives, Hessian-vector
 * products); every rule is written with ops, except the fused ops whose backward reads state saved without a
 * graph, which refuse.
 */
final class FunctionalGrad {
    private FunctionalGrad() {}

    static Tensor[] grad(Tensor[] outputs, Tensor[] inputs, Tensor[] gradOutputs, boolean retainGraph, boolean createGraph, boolean allowUnused) {
        if (outputs == null || outputs.length == 0) throw new IllegalArgumentException("grad: no outputs");
        if (inputs == null || inputs.length == 0) throw new IllegalArgumentException("grad: no inputs");
        if (gradOutputs != null && gradOutputs.length != outputs.length)
            throw new IllegalArgumentException("grad: " + gradOutputs.length + " gradOutputs for " + outputs.length + " outputs");
        Map<Entry, Integer> entryInputs = new IdentityHashMap<>();          // an input's producing entry -> the input's index
        Set<Tensor> leafInputs = Collections.newSetFromMap(new IdentityHashMap<>());
        for (int i = 0; i < inputs.length; i++) {
            Tensor t = inputs[i];
            if (!t.requiresGrad())
                throw new IllegalArgumentException("grad: input " + i + " " + Shape.str(t.shape()) + " does not require grad; mark it requiresGrad(true) before computing the outputs");
            if (t.gradFn() instanceof Entry e) entryInputs.put(e, i);
            else leafInputs.add(t);
        }
        Map<Entry, Tensor> grads = new IdentityHashMap<>();
        Map<Tensor, Tensor> leafGrads = new IdentityHashMap<>();
        boolean was = Engine.setEnabled(createGraph);
        List<Entry> ran = new ArrayList<>();
        try {
            List<Entry> starts = new ArrayList<>();
            for (int k = 0; k < outputs.length; k++) {
                Tensor out = outputs[k], seed = seed(out, gradOutputs == null ? null : gradOutputs[k], k, createGraph);
                if (out.gradFn() instanceof Entry e) {
                    grads.merge(e, seed, Tensor::add);
                    starts.add(e);
                } else if (leafInputs.contains(out)) {
                    leafGrads.merge(out, seed, Tensor::add);
                }
            }
            List<Entry> order = reachable(starts);
            Set<Entry> toInputs = Collections.newSetFromMap(new IdentityHashMap<>());    // entries with a path to an input
            for (int k = order.size() - 1; k >= 0; k--) {                               // producers first
                Entry e = order.get(k);
                if (e.isReleased()) continue;
                for (Object n : e.next()) if (leads(n, leafInputs, entryInputs, toInputs)) { toInputs.add(e); break; }
            }
            Map<Entry, Tensor> captured = new IdentityHashMap<>();
            for (Entry e : order) {
                Tensor g = grads.remove(e);
                if (g == null) continue;
                if (e.isReleased()) e.backward(null);   // throws the "already freed" error
                g = TensorHooks.atEntry(e, g, false);
                if (entryInputs.containsKey(e)) captured.put(e, g);
                if (!toInputs.contains(e)) continue;
                if (createGraph && "checkpoint".equals(e.name))
                    throw new UnsupportedOperationException("grad: createGraph through a checkpoint segment (tape entry #" + e.seq + ") is not supported; run it without checkpointing");
                Object[] next = e.next();
                boolean[] wanted = new boolean[next.length];
                for (int i = 0; i < next.length; i++) wanted[i] = leads(next[i], leafInputs, entryInputs, toInputs);
                Tensor[] in = e.backward(g, wanted);
                ran.add(e);
                for (int i = 0; i < next.length; i++) {
                    if (!wanted[i] || in[i] == null) continue;
                    if (next[i] instanceof Tensor leaf) leafGrads.merge(leaf, in[i], Tensor::add);
                    else grads.merge((Entry) next[i], in[i], Tensor::add);
                }
            }
            Tensor[] result = new Tensor[inputs.length];
            for (int i = 0; i < inputs.length; i++) {
                Tensor t = inputs[i];
                Tensor g = t.gradFn() instanceof Entry e ? captured.get(e) : leafGrads.containsKey(t) ? TensorHooks.run(t, leafGrads.get(t)) : null;
                if (g == null && !allowUnused)
                    throw new IllegalArgumentException("grad: input " + i + " " + Shape.str(t.shape()) + " is not used to compute the outputs; "
                            + "pass allowUnused to get null for it");
                result[i] = g;
            }
            return result;
        } finally {
            Engine.setEnabled(was);
            if (!retainGraph) for (Entry e : ran) e.release();
        }
    }

    /**
     * backward(create_graph=True): the gradients of root with respect to every leaf that requires grad and
     * that it depends on, added into their grad() as differentiable tensors (grad() + g, never in place).
     */
    static void backwardCreatingGraph(Tensor root, Tensor gradient, boolean retainGraph) {
        if (!(root.gradFn() instanceof Entry start))
            throw new IllegalArgumentException("backward: the root " + Shape.str(root.shape()) + " is a leaf; there is no graph to differentiate");
        List<Tensor> leaves = new ArrayList<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Entry e : Engine.reachable(start)) {
            if (e.isReleased()) e.backward(null);   // throws the "already freed" error
            for (Object n : e.next()) if (n instanceof Tensor leaf && seen.add(leaf)) leaves.add(leaf);
        }
        Tensor[] in = leaves.toArray(new Tensor[0]);
        Tensor[] g = grad(new Tensor[] {root}, in, gradient == null ? null : new Tensor[] {gradient}, retainGraph, true, true);
        for (int i = 0; i < in.length; i++) {
            if (g[i] == null) continue;
            in[i].setGrad(in[i].grad() == null ? g[i] : in[i].grad().add(g[i]));
            GradHooks.fire(in[i]);
        }
    }

    private static Tensor seed(Tensor out, Tensor given, int k, boolean createGraph) {
        if (!out.requiresGrad())
            throw new IllegalArgumentException("grad: output " + k + " " + Shape.str(out.shape()) + " does not require grad; no input it depends on requires grad");
        if (given == null) {
            if (out.numel() != 1)
                throw new IllegalArgumentException("grad: output " + k + " has shape " + Shape.str(out.shape()) + "; without a gradOutput it must have one element");
            return Tensor.onesLike(out);
        }
        if (!Arrays.equals(given.shape(), out.shape()) || given.dtype() != out.dtype())
            throw new IllegalArgumentException("grad: gradOutput " + k + " " + Shape.str(given.shape()) + " " + given.dtype() + " does not match output "
                    + Shape.str(out.shape()) + " " + out.dtype());
        return createGraph ? given : given.detach();
    }

    private static boolean leads(Object n, Set<Tensor> leafInputs, Map<Entry, Integer> entryInputs, Set<Entry> toInputs) {
        return n instanceof Tensor leaf ? leafInputs.contains(leaf) : n instanceof Entry p && (entryInputs.containsKey(p) || toInputs.contains(p));
    }

    /** Entries reachable from any start, latest first. */
    private static List<Entry> reachable(List<Entry> starts) {
        Set<Entry> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Entry> out = new ArrayList<>();
        for (Entry s : starts) for (Entry e : Engine.reachable(s)) if (seen.add(e)) out.add(e);
        out.sort(Comparator.comparingLong((Entry e) -> e.seq).reversed());
        return out;
    }
}
