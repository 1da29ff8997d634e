package dev.fluxion.tensor;

/**
 * An op with a faster kernel than its composition: one definition holding its arguments (the record's
 * fields), its checks, its composed default written with ops, what its backward keeps and its backward
 * rule. A backend adds a kernel for it with {@link FusedKernels#register} (the CPU backend in
 * {@code cpu/}, the CUDA backend from module fluxion-native) without touching this file or {@link Backend}.
 *
 * <pre>{@code
 * Tensor y = new LayerNormOp(1e-5).apply(x, weight, bias);   // what x.layerNorm(weight, bias, 1e-5) runs
 * }</pre>
 *
 * <p>{@link #apply} checks the inputs, runs the registered kernel for the inputs' device (or the composed
 * default when there is none, or it declines), and records one tape entry whose rule is the kernel's
 * backward, else {@link #backward}. The forward may return state next to its output ({@link Result}); the
 * tape keeps that state and the inputs named by {@link #save}, nothing else.
 *
 * <p>A non-differentiable fused op (an optimizer step updating parameters in place) fits the same shape:
 * {@link #differentiable} returns false, {@link #save} and {@link #backward} are never called (backward
 * throws naming the op), the composed default is the reference implementation written with ops under
 * noGrad semantics (nothing is recorded), {@code Result.output} is the updated tensor, and a backend
 * registers its fused kernel for it as for any other op: {@link AdamUpdate} is one.
 */
public sealed interface FusedOp permits LayerNormOp, CrossEntropyOp, AttentionOp, AdamUpdate, Im2ColOp, Col2ImOp, MaxPool2dOp, Conv2dOp, AvgPool2dOp, LinearOp, ReluBackwardOp, ActivationBackwardOp, SgdUpdate, DropoutOp {
    /** The op's name in errors and on the printed tape. */
    String name();

    /** Throws an exception naming the op, the values and the expectation when the inputs do not fit. */
    void check(Tensor[] inputs);

    /** The reference implementation, written with ops; runs with recording off. */
    Result compose(Tensor[] inputs);

    /** What the backward keeps of the inputs and output, given which inputs need gradients. */
    Save save(boolean[] needsGrad);

    /** The input gradients from the output gradient and what the forward saved, written with ops. */
    Tensor[] backward(Saved saved, Tensor gradOutput);

    /** False for an op with no gradient (an optimizer step): it is never recorded. */
    default boolean differentiable() { return true; }

    /** Runs this op on inputs (all on one device) and records it when gradients are on. */
    default Tensor apply(Tensor... inputs) { return FusedKernels.apply(this, inputs); }

    /**
     * A forward's output and the state its backward reads (beyond the saved inputs and output).
     *
     * @param output the op's result
     * @param state extra tensors for the backward, e.g. layer norm's mean and rstd
     */
    record Result(Tensor output, Tensor... state) {}
}
