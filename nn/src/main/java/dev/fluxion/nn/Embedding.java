package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/** Rows of a (num, dim) table.  ids: (...) int64 -> (..., dim).  Init N(0, 1) as torch.nn.Embedding. */
public final class Embedding extends Module {
    private final Parameter weight;   // (num, dim)

    /** A table of num vectors of size dim, initialized N(0, 1) as torch.nn.Embedding. */
    public Embedding(int num, int dim, Init init) {
        if (num <= 0 || dim <= 0) throw new IllegalArgumentException("Embedding: sizes must be positive, got num=" + num + ", dim=" + dim);
        this.weight = register("weight", init.normal(0, 1, num, dim));
    }

    /** The weight (see the class comment for its shape). */
    public Parameter weight() { return weight; }

    @Override protected Tensor compute(Tensor ids) { return Tensor.embedding(weight, ids); }

    @Override protected String extraRepr() { return weight.size(0) + ", " + weight.size(1); }
}
