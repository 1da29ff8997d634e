package dev.fluxion.nn;

import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

/**
 * A trainable tensor of a {@link Module}: a leaf that requires gradients and outlives every {@link Scope}
 * (parameters belong to the model, not to a step). It shares the elements of the tensor it wraps.
 */
public final class Parameter extends Tensor {
    public Parameter(Tensor data) {
        super(data.detach());
        if (!data.dtype().isFloatingPoint())
            throw new IllegalArgumentException("Parameter: must be floating point, got " + data.dtype());
        requiresGrad(true);
        Scope.escape(this);
    }
}
