package dev.fluxion.nn;

import dev.fluxion.tensor.UnaryOp;

/** ReLU as a module.  x: (...) -> (...). */
public final class ReLU extends Activation {
    /** max(x, 0). */
    public ReLU() { super(UnaryOp.RELU); }
}
