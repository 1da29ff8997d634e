package dev.fluxion.tensor;

/**
 * What an op's forward kept for its backward rule (PyTorch's {@code ctx.saved_tensors}): the inputs and
 * the output its {@link Save} named, the extra state a fused forward produced (layer norm's mean and rstd,
 * cross-entropy's log-sum-exp), and of every input its shape, dtype, device and whether it needs a
 * gradient. Asking for a tensor that was not saved is an error naming the op.
 */
public interface Saved {
    /** Input i, if the rule saved it. */
    Tensor input(int i);

    /** The output, if the rule saved it. */
    Tensor output();

    /** The k-th state tensor a fused forward returned next to its output. */
    Tensor state(int k);

    /** Number of inputs of the op. */
    int inputCount();

    /** Shape of input i (kept for every input). */
    int[] shape(int i);

    DType dtype(int i);

    Device device(int i);

    /** Whether input i needs a gradient; a rule may return null for one that does not (as ctx.needs_input_grad). */
    boolean needsGrad(int i);
}
