package dev.fluxion.autodiff;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One line of the Wengert list: an op, where its inputs' gradients go, and what its rule saved. The entry
 * keeps only the tensors its rule's {@link Save} named (with their storage versions, to refuse them after
 * an in-place write), the state a fused forward returned, and of every input its shape, dtype and device.
 * Each input's gradient goes to the entry that produced it, or to the leaf itself ({@code next}). The
 * entry is what a tensor's {@code gradFn()} points to; backward releases it once its rule has run, unless
 * the graph is retained.
 */
final class Entry implements Saved {
    private static final AtomicLong SEQUENCE = new AtomicLong();
    private static final Tensor[] NONE = new Tensor[0];

    final long seq = SEQUENCE.getAndIncrement();   // forward order: backward runs entries by descending seq
    final String name;
    private Rule rule;
    private Object[] next;                         // per input: the producing Entry, the leaf Tensor, or null (no gradient)
    private final int[][] shapes;
    private final DType[] dtypes;
    private final Device[] devices;
    private Tensor[] savedInputs;                  // null where the rule did not save the input
    private Tensor savedOutput;
    private Tensor[] state;
    private final int[] inputVersions;
    private final int outputVersion;
    private final int[] stateVersions;
    private final int[] outputShape;              // what toString() describes, kept after release; the string itself
    private final DType outputDtype;              // is made only when asked (formatting it for every op cost ms per step)
    private final int[] keptInputs;
    private final boolean keptOutput;
    private final int keptState;
    private String description;
    private boolean released;
    private boolean[] only;                        // during a split backward: the inputs whose gradients are wanted now (null: all)

    Entry(String name, Rule rule, Tensor[] inputs, Tensor output, Tensor[] state, boolean keepAll) {
        this.name = name;
        this.rule = rule;
        int n = inputs.length;
        this.next = new Object[n];
        this.shapes = new int[n][];
        this.dtypes = new DType[n];
        this.devices = new Device[n];
        boolean[] needs = new boolean[n];
        for (int i = 0; i < n; i++) {
            Tensor in = inputs[i];
            if (in.gradFn() instanceof Entry producer) next[i] = producer;
            else if (in.requiresGrad()) next[i] = in;
            needs[i] = next[i] != null;
            shapes[i] = in.shape();
            dtypes[i] = in.dtype();
            devices[i] = in.device();
        }
        Save save = keepAll ? all(n) : rule.save(needs);
        this.savedInputs = new Tensor[n];
        this.inputVersions = new int[n];
        for (int i : save.inputs()) {
            if (i >= n) throw new IllegalStateException("backward rule of '" + name + "' saves input " + i + " of " + n);
            savedInputs[i] = inputs[i];
            inputVersions[i] = inputs[i].storage().version();
        }
        this.savedOutput = save.output() ? output : null;
        this.outputVersion = output.storage().version();
        this.state = state.length == 0 ? NONE : state.clone();
        this.stateVersions = new int[state.length];
        for (int k = 0; k < state.length; k++) stateVersions[k] = state[k].storage().version();
        this.outputShape = output.shape();
        this.outputDtype = output.dtype();
        this.keptInputs = save.inputs();
        this.keptOutput = savedOutput != null;
        this.keptState = this.state.length;
    }

    private static Save all(int n) {
        int[] every = new int[n];
        for (int i = 0; i < n; i++) every[i] = i;
        return Save.inputs(every).withOutput();
    }

    /** Where each input's gradient goes: an Entry, a leaf Tensor, or null. */
    Object[] next() { return next; }

    boolean isReleased() { return released; }

    /** This entry's rule (null once released). */
    Rule rule() { return rule; }

    /**
     * As {@link #backward(Tensor)} for the inputs with wanted[i] only: the rule sees needsGrad false for the
     * others (rules that check it skip their work) and their gradients come back null. For split backward.
     */
    Tensor[] backward(Tensor gradOutput, boolean[] wanted) {
        only = wanted;
        try {
            Tensor[] grads = backward(gradOutput);
            for (int i = 0; i < grads.length; i++) if (!wanted[i]) grads[i] = null;
            return grads;
        } finally {
            only = null;
        }
    }

    /** Runs the rule after checking that nothing it saved was overwritten in place. */
    Tensor[] backward(Tensor gradOutput) {
        if (released)
            throw new IllegalStateException("backward: the graph through '" + name + "' (tape entry #" + seq + ") was already freed by an earlier "
                    + "backward(); call backward(gradient, true) the first time to keep it for a second backward");
        for (int i = 0; i < savedInputs.length; i++) if (savedInputs[i] != null) checkVersion(savedInputs[i], inputVersions[i], "input " + i);
        if (savedOutput != null) checkVersion(savedOutput, outputVersion, "output");
        for (int k = 0; k < state.length; k++) checkVersion(state[k], stateVersions[k], "saved state " + k);
        Tensor[] grads = rule.backward(this, gradOutput);
        if (grads.length != shapes.length)
            throw new IllegalStateException("backward rule of '" + name + "' returned " + grads.length + " gradients for " + shapes.length + " inputs");
        for (int i = 0; i < grads.length; i++)
            if (grads[i] != null && !java.util.Arrays.equals(grads[i].shape(), shapes[i]))
                throw new IllegalStateException("backward rule of '" + name + "' gave input " + i + " a gradient of shape " + Shape.str(grads[i].shape())
                        + ", expected " + Shape.str(shapes[i]));
        return grads;
    }

    private void checkVersion(Tensor t, int recorded, String which) {
        int now = t.storage().version();
        if (now != recorded)
            throw new IllegalStateException("backward: " + which + " of '" + name + "' (tape entry #" + seq + ", shape " + Shape.str(t.shape())
                    + ") was modified in place after the op saved it (version " + recorded + " -> " + now + "); gradients would be wrong. "
                    + "Clone it before the in-place write, or do the write before using it");
    }

    // ---------------------------------------------------------------- Saved, as the rule sees it

    @Override public Tensor input(int i) {
        if (savedInputs[i] == null)
            throw new IllegalStateException("backward rule of '" + name + "' read input " + i + ", which its forward did not save; add it to the rule's Save");
        return savedInputs[i];
    }

    @Override public Tensor output() {
        if (savedOutput == null)
            throw new IllegalStateException("backward rule of '" + name + "' read the output, which its forward did not save; add it to the rule's Save");
        return savedOutput;
    }

    @Override public Tensor state(int k) {
        if (k >= state.length)
            throw new IllegalStateException("backward rule of '" + name + "' read state " + k + ", but its forward returned " + state.length);
        return state[k];
    }

    @Override public int inputCount() { return shapes.length; }

    @Override public int[] shape(int i) { return shapes[i].clone(); }

    @Override public DType dtype(int i) { return dtypes[i]; }

    @Override public Device device(int i) { return devices[i]; }

    @Override public boolean needsGrad(int i) { return !released && next[i] != null && (only == null || only[i]); }

    // ---------------------------------------------------------------- lifetime

    void release() {
        released = true;
        savedInputs = null;
        savedOutput = null;
        state = NONE;
        next = null;
        rule = null;
    }

    /** The tensors this entry keeps alive for its rule (none once released). */
    List<Tensor> saved() {
        List<Tensor> out = new ArrayList<>();
        if (released) return out;
        for (Tensor t : savedInputs) if (t != null) out.add(t);
        if (savedOutput != null) out.add(savedOutput);
        for (Tensor t : state) out.add(t);
        return out;
    }

    /** Made on first use only: formatting it for every recorded op cost milliseconds per training step. */
    private String describe() {
        if (description == null) {
            StringJoiner in = new StringJoiner(", ");
            for (int i = 0; i < shapes.length; i++) in.add(Shape.str(shapes[i]) + " " + dtypes[i]);
            StringJoiner keeps = new StringJoiner(", ", "  keeps ", "");
            keeps.setEmptyValue("");
            for (int i : keptInputs) keeps.add("input " + i);
            if (keptOutput) keeps.add("output");
            if (keptState > 0) keeps.add(keptState + " state");
            description = String.format("#%-4d %-14s %s -> %s %s%s", seq, name, in, Shape.str(outputShape), outputDtype, keeps);
        }
        return description;
    }

    @Override public String toString() { return describe() + (released ? "  (released)" : ""); }
}
