package dev.fluxion.nn;

import dev.fluxion.tensor.UnaryOp;

/** Tanh as a module.  x: (...) -> (...). */
public final class Tanh extends Activation {
    /** tanh(x). */
    public Tanh() { super(UnaryOp.TANH); }
}
