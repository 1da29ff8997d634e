package dev.fluxion.tensor;

/**
 * A backend's kernel for one {@link FusedOp}, registered in {@link FusedKernels} for a device kind. Either
 * method may return null when it does not cover the arguments (a dtype or layout it has no kernel for); the
 * op's composed default then runs. A forward must return the same state layout as the op's composed
 * default (documented on each op), so that either backward can consume it.
 *
 * @param <O> the fused op record this kernel computes
 */
public interface FusedKernel<O extends FusedOp> {
    /** The op's output and state, or null to fall back to {@link FusedOp#compose}. Runs with recording off. */
    FusedOp.Result forward(O op, Tensor[] inputs);

    /** One gradient per input (null where none), or null to fall back to {@link FusedOp#backward}. */
    default Tensor[] backward(O op, Saved saved, Tensor gradOutput) { return null; }
}
