package dev.fluxion.nn;

import dev.fluxion.tensor.UnaryOp;

/** SiLU as a module.  x: (...) -> (...). */
public final class SiLU extends Activation {
    /** x * sigmoid(x). */
    public SiLU() { super(UnaryOp.SILU); }
}
