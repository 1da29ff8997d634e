package dev.fluxion.nn;

import dev.fluxion.tensor.UnaryOp;

/** Sigmoid as a module.  x: (...) -> (...). */
public final class Sigmoid extends Activation {
    /** 1 / (1 + exp(-x)). */
    public Sigmoid() { super(UnaryOp.SIGMOID); }
}
