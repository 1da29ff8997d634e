package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.UnaryOp;

/** An elementwise nonlinearity as a module (ReLU, GELU, SiLU, Tanh, Sigmoid).  x: (...) -> (...). */
public abstract class Activation extends Module {
    private final UnaryOp op;

    /** An activation that applies op elementwise. */
    protected Activation(UnaryOp op) { this.op = op; }

    @Override protected Tensor compute(Tensor x) { return x.apply(op); }
}
