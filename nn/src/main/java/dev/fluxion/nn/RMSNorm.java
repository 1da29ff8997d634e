package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/** x / sqrt(mean(x^2) + eps) * w over the last dim.  x: (..., dim) -> (..., dim).  w = 1 at init. */
public final class RMSNorm extends Module {
    private final Parameter weight;   // (dim)
    private final double eps;

    /** Normalizes over a last dim of size dim with epsilon eps; weight ones. */
    public RMSNorm(int dim, double eps, Init init) {
        this.eps = Checks.nonNegative("RMSNorm", "eps", eps);
        this.weight = register("weight", init.ones(dim));
    }

    @Override protected Tensor compute(Tensor x) { return Functional.rmsNorm(x, weight, eps); }

    @Override protected String extraRepr() { return weight.size(0) + ", eps=" + eps; }
}
