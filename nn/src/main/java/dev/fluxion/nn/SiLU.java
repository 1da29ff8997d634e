package dev.fluxion.nn;

import dev.fluxion.tensor.UnaryOp;

/** SiLU as a module.  x: (...) -> (...). */
public final class SiLU extends Activation {
    public SiLU() { super(UnaryOp.SILU); }
}
