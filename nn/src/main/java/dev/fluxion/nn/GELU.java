package dev.fluxion.nn;

import dev.fluxion.tensor.UnaryOp;

/** GELU, exact (erf) by default or with the tanh approximation.  x: (...) -> (...). */
public final class GELU extends Activation {
    private final boolean tanh;

    /** GELU with the exact erf form (PyTorch's default). */
    public GELU() { this(false); }

    /** GELU, with the tanh approximation when tanhApproximation (PyTorch's approximate='tanh'). */
    public GELU(boolean tanhApproximation) {
        super(tanhApproximation ? UnaryOp.GELU_TANH : UnaryOp.GELU);
        this.tanh = tanhApproximation;
    }

    @Override protected String extraRepr() { return tanh ? "approximate=tanh" : ""; }
}
