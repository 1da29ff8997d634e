package dev.fluxion.autodiff;

import dev.fluxion.tensor.Tensor;

/**
 * How an op's output gradient becomes its inputs' gradients. Returns one gradient per input, or null for
 * an input that gets none (indices, masks). Runs with recording off.
 */
@FunctionalInterface
public interface BackwardRule {
    Tensor[] apply(Tensor[] inputs, Tensor output, Tensor gradOutput);
}
