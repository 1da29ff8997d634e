package dev.fluxion.autodiff;

import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.StringJoiner;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One line of the Wengert list: an op, its inputs and output, and the storage versions they had when
 * recorded. The entry is what a tensor's {@code gradFn()} points to. Backward releases it (drops every
 * reference) once its rule has run, unless the graph is retained.
 */
final class Entry {
    private static final AtomicLong SEQUENCE = new AtomicLong();

    final long seq = SEQUENCE.getAndIncrement();   // forward order: backward runs entries by descending seq
    final String name;
    private BackwardRule rule;
    private Tensor[] inputs;
    private Tensor output;
    private final int[] inputVersions;
    private final int outputVersion;
    private final String description;             // kept after release, for messages and the printed tape
    private boolean released;

    Entry(String name, BackwardRule rule, Tensor[] inputs, Tensor output) {
        this.name = name;
        this.rule = rule;
        this.inputs = inputs.clone();
        this.output = output;
        this.inputVersions = new int[inputs.length];
        for (int i = 0; i < inputs.length; i++) inputVersions[i] = inputs[i].storage().version();
        this.outputVersion = output.storage().version();
        this.description = describe();
    }

    Tensor[] inputs() { return inputs; }

    Tensor output() { return output; }

    boolean isReleased() { return released; }

    /** Runs the rule after checking that nothing it saved was overwritten in place. */
    Tensor[] backward(Tensor gradOutput) {
        if (released)
            throw new IllegalStateException("backward: the graph through '" + name + "' (tape entry #" + seq + ") was already freed by an earlier "
                    + "backward(); call backward(gradient, true) the first time to keep it for a second backward");
        for (int i = 0; i < inputs.length; i++) checkVersion(inputs[i], inputVersions[i], "input " + i);
        checkVersion(output, outputVersion, "output");
        Tensor[] grads = rule.apply(inputs, output, gradOutput);
        if (grads.length != inputs.length)
            throw new IllegalStateException("backward rule of '" + name + "' returned " + grads.length + " gradients for " + inputs.length + " inputs");
        for (int i = 0; i < grads.length; i++)
            if (grads[i] != null && !java.util.Arrays.equals(grads[i].shape(), inputs[i].shape()))
                throw new IllegalStateException("backward rule of '" + name + "' gave input " + i + " a gradient of shape " + Shape.str(grads[i].shape())
                        + ", expected " + Shape.str(inputs[i].shape()));
        return grads;
    }

    private void checkVersion(Tensor t, int recorded, String which) {
        int now = t.storage().version();
        if (now != recorded)
            throw new IllegalStateException("backward: " + which + " of '" + name + "' (tape entry #" + seq + ", shape " + Shape.str(t.shape())
                    + ") was modified in place after the op saved it (version " + recorded + " -> " + now + "); gradients would be wrong. "
                    + "Clone it before the in-place write, or do the write before using it");
    }

    void release() {
        released = true;
        inputs = null;
        output = null;
        rule = null;
    }

    /** Tensors this entry keeps alive for its rule (none once released). */
    java.util.List<Tensor> saved() {
        if (released) return java.util.List.of();
        java.util.List<Tensor> out = new java.util.ArrayList<>(java.util.Arrays.asList(inputs));
        out.add(output);
        return out;
    }

    /** Tensors this entry keeps alive (0 once released). */
    int savedCount() { return released ? 0 : inputs.length + 1; }

    private String describe() {
        StringJoiner in = new StringJoiner(", ");
        for (Tensor t : inputs) in.add(Shape.str(t.shape()) + " " + t.dtype());
        return String.format("#%-4d %-14s %s -> %s %s", seq, name, in, Shape.str(output.shape()), output.dtype());
    }

    @Override public String toString() { return description + (released ? "  (released)" : ""); }
}
