package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/** Normalizes over the last dim, then scales and shifts.  x: (..., dim) -> (..., dim).  w = 1, b = 0 at init. */
public final class LayerNorm extends Module {
    private final Parameter weight;   // (dim)
    private final Parameter bias;     // (dim) or null
    private final double eps;

    /** Normalizes over a last dim of size dim with epsilon eps; weight ones, bias (if any) zeros. */
    public LayerNorm(int dim, double eps, boolean bias, Init init) {
        this.eps = Checks.nonNegative("LayerNorm", "eps", eps);
        this.weight = register("weight", init.ones(dim));
        this.bias = bias ? register("bias", init.zeros(dim)) : null;
    }

    /** LayerNorm(dim, 1e-5, true, init), PyTorch's defaults. */
    public LayerNorm(int dim, Init init) { this(dim, 1e-5, true, init); }

    @Override protected Tensor compute(Tensor x) { return Functional.layerNorm(x, weight, bias, eps); }

    @Override protected String extraRepr() { return weight.size(0) + ", eps=" + eps; }
}
