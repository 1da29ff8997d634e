package dev.fluxion.tensor;

/**
 * The hook through which module fluxion-autodiff records ops on its tape. The tensor module calls it for
 * every primitive {@link Op} and {@link FusedOp} whose inputs require gradients; with no engine on the classpath nothing is
 * recorded and {@code backward()} says the module is missing.
 */
public interface AutogradEngine {
    /** Whether gradients are recorded on the calling thread now (false inside a noGrad scope). */
    boolean isEnabled();

    /** Appends one entry for a primitive op; the op's rule decides which of inputs and output it keeps. */
    void record(Op op, Tensor output, Tensor[] inputs);

    /**
     * Appends one entry for a fused op: it keeps what {@link FusedOp#save} names plus state (what the
     * forward returned next to its output), and its rule is {@link FusedKernels#backward}.
     */
    void record(FusedOp op, Tensor output, Tensor[] inputs, Tensor[] state);

    /** Runs the tape backward from root, seeded with gradient (same shape as root). */
    void backward(Tensor root, Tensor gradient, boolean retainGraph);

    /** Runs hook on t's gradient each time a backward pass computes it (see {@link Tensor#registerHook}). */
    default HookHandle registerHook(Tensor t, java.util.function.UnaryOperator<Tensor> hook) {
        throw new UnsupportedOperationException("registerHook: this autograd engine has no tensor hooks");
    }

    /** Keeps non-leaf t's gradient in its grad() after backward (see {@link Tensor#retainGrad}). */
    default void retainGrad(Tensor t) {
        throw new UnsupportedOperationException("retainGrad: this autograd engine cannot retain gradients of non-leaf tensors");
    }
}
