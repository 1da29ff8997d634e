package dev.fluxion.tensor;

/**
 * The hook through which module fluxion-autodiff records ops on its tape. The tensor module calls it for
 * every primitive {@link Op} whose inputs require gradients; with no engine on the classpath nothing is
 * recorded and {@code backward()} says the module is missing.
 */
public interface AutogradEngine {
    /** Whether gradients are recorded on the calling thread now (false inside a noGrad scope). */
    boolean isEnabled();

    /** Appends one entry (op, inputs, output) to the calling thread's tape. */
    void record(Op op, Tensor output, Tensor[] inputs);

    /** Runs the tape backward from root, seeded with gradient (same shape as root). */
    void backward(Tensor root, Tensor gradient, boolean retainGraph);
}
