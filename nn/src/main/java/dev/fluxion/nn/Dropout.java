package dev.fluxion.nn;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;

/** Zeroes elements with probability p in training mode (scaling the rest by 1/(1-p)); identity in eval mode. */
public final class Dropout extends Module {
    private final double p;
    private final Generator generator;

    /** Dropout with probability p in [0, 1] (1: zeros), drawing its masks from the global generator (as torch.nn.Dropout(p)). */
    public Dropout(double p) { this(p, Init.global()); }

    /** Dropout with probability p in [0, 1] (1: zeros), drawing its masks from init's generator. */
    public Dropout(double p, Init init) {
        this.p = Checks.probabilityOrOne("Dropout", "p", p);
        this.generator = init.generator();
    }

    @Override protected Tensor compute(Tensor x) { return isTraining() ? Functional.dropout(x, p, generator) : x; }

    @Override protected String extraRepr() { return "p=" + p; }
}
