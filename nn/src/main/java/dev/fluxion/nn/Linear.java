package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/** y = x W^T + b.  x: (..., in) -> y: (..., out).  Init as torch.nn.Linear: U(-1/sqrt(in), 1/sqrt(in)). */
public final class Linear extends Module {
    private final Parameter weight;   // (out, in)
    private final Parameter bias;     // (out) or null

    /** A layer from in to out features, with a bias if asked; weights U(-1/sqrt(in), 1/sqrt(in)) as torch.nn.Linear. */
    public Linear(int in, int out, boolean bias, Init init) {
        if (in <= 0 || out <= 0) throw new IllegalArgumentException("Linear: sizes must be positive, got in=" + in + ", out=" + out);
        double bound = 1 / Math.sqrt(in);
        this.weight = register("weight", init.uniform(-bound, bound, out, in));
        this.bias = bias ? register("bias", init.uniform(-bound, bound, out)) : null;
    }

    /** The weight (see the class comment for its shape). */
    public Parameter weight() { return weight; }

    /** The bias, or null when the layer was built without one. */
    public Parameter bias() { return bias; }

    @Override protected Tensor compute(Tensor x) { return Functional.linear(x, weight, bias); }

    @Override protected String extraRepr() {
        return "in=" + weight.size(1) + ", out=" + weight.size(0) + ", bias=" + (bias != null);
    }
}
