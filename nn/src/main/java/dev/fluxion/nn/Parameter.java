package dev.fluxion.nn;

import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;

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

    /**
     * Makes this parameter hold data's elements (shared, not copied), keeping the object, its
     * requiresGrad flag and the hooks registered on it: PyTorch's {@code param.data = data}. A gradient
     * that no longer matches the new shape, dtype or device is dropped. {@link Module#to} uses it; an
     * optimizer made before keeps state of the old dtype, so convert first, then create the optimizer.
     */
    public void setData(Tensor data) {
        if (!data.dtype().isFloatingPoint())
            throw new IllegalArgumentException("Parameter.setData: must be floating point, got " + data.dtype());
        replaceData(data.detach());
        Tensor g = grad();
        if (g != null && (!Arrays.equals(g.shape(), shape()) || g.dtype() != dtype() || !g.device().equals(device()))) setGrad(null);
    }
}
