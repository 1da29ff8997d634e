package dev.fluxion.tensor;

import java.util.Arrays;

/**
 * The backward of a smooth activation (GELU, its tanh approximation, SiLU) in one pass: inputs (grad, input),
 * result {@code grad * activation'(input)}. The composed default is {@code grad.mul(input.apply(derivative))},
 * which writes the derivative as a tensor first; the CPU kernel computes each element's derivative and product
 * together, with the same float operations (same bits). Second derivatives are not supported, as for the
 * derivative ops themselves.
 *
 * <pre>{@code
 * Tensor dx = new ActivationBackwardOp(UnaryOp.GELU_TANH).apply(gradOut, x);
 * }</pre>
 *
 * @param activation GELU, GELU_TANH or SILU
 */
public record ActivationBackwardOp(UnaryOp activation) implements FusedOp {
    public ActivationBackwardOp {
        derivative(activation);                                            // refuses the others here, naming them
    }

    /** The derivative op of activation. */
    public static UnaryOp derivative(UnaryOp activation) {
        return switch (activation) {
            case GELU -> UnaryOp.GELU_GRAD;
            case GELU_TANH -> UnaryOp.GELU_TANH_GRAD;
            case SILU -> UnaryOp.SILU_GRAD;
            default -> throw new IllegalArgumentException("activation_backward: " + activation.opName()
                    + " has no fused backward (expected gelu, gelu_tanh or silu)");
        };
    }

    @Override public String name() { return activation.opName() + "_backward"; }

    @Override public void check(Tensor[] in) {
        if (in.length != 2)
            throw new IllegalArgumentException(name() + ": takes (grad, input), got " + in.length + " inputs");
        if (!Arrays.equals(in[0].shape(), in[1].shape()))
            throw new IllegalArgumentException(name() + ": grad has shape " + Shape.str(in[0].shape())
                    + " but input has shape " + Shape.str(in[1].shape()) + "; they must be equal");
    }

    @Override public Result compose(Tensor[] in) {
        return new Result(in[0].mul(in[1].apply(derivative(activation))));
    }

    @Override public Save save(boolean[] needsGrad) { return needsGrad[0] ? Save.inputs(1) : Save.NOTHING; }

    @Override public Tensor[] backward(Saved s, Tensor g) {
        if (s.needsGrad(1))
            throw new UnsupportedOperationException("backward: " + name() + " is a first derivative; second derivatives are not supported");
        return new Tensor[] {s.needsGrad(0) ? g.mul(s.input(1).apply(derivative(activation))) : null, null};
    }
}
