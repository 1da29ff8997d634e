package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/** Returns its input unchanged, as torch.nn.Identity: a placeholder where a layer is optional (a removed head). */
public final class Identity extends Module {
    /** An identity layer. */
    public Identity() {}

    @Override protected Tensor compute(Tensor x) { return x; }
}
