package dev.fluxion.tensor;

import java.util.Arrays;

/**
 * Which of an op's inputs, and whether its output, the backward rule keeps (PyTorch's
 * {@code ctx.save_for_backward}). The tape keeps only these; of the other inputs it keeps shape, dtype and
 * device. Example: exp keeps its output, mul keeps each operand only when the other one needs a gradient,
 * add keeps nothing.
 *
 * @param inputs indices of the inputs kept, ascending
 * @param output whether the output is kept
 */
public record Save(int[] inputs, boolean output) {
    /** Keeps nothing: the rule needs only shapes (add, reshape, sum). */
    public static final Save NOTHING = new Save(new int[0], false);

    /** Keeps only the output (exp, tanh, softmax). */
    public static final Save OUTPUT = new Save(new int[0], true);

    public Save {
        inputs = inputs.clone();
        Arrays.sort(inputs);
        for (int i = 0; i < inputs.length; i++)
            if (inputs[i] < 0 || i > 0 && inputs[i] == inputs[i - 1])
                throw new IllegalArgumentException("Save: input indices must be distinct and >= 0, got " + Arrays.toString(inputs));
    }

    /** Keeps the given inputs. */
    public static Save inputs(int... indices) { return new Save(indices, false); }

    /** This selection plus the output. */
    public Save withOutput() { return new Save(inputs, true); }

    /** Whether input i is kept. */
    public boolean keepsInput(int i) { return Arrays.binarySearch(inputs, i) >= 0; }

    @Override public String toString() { return "Save" + Arrays.toString(inputs) + (output ? " + output" : ""); }
}
