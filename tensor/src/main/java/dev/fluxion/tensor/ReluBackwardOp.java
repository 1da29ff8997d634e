package dev.fluxion.tensor;

import java.util.Arrays;

/**
 * ReLU's backward in one pass (PyTorch's threshold_backward at threshold 0): inputs (grad, output), result
 * {@code output <= 0 ? 0 : grad}, so relu'(0) = 0 and a NaN output passes the gradient, as PyTorch. The
 * composed default is {@code where(output.le(0), 0, grad)}; the CPU kernel does it without the bool mask.
 * Its own gradient is linear in grad (the same mask) and zero in output.
 *
 * <pre>{@code
 * Tensor dx = new ReluBackwardOp().apply(gradOut, reluOutput);
 * }</pre>
 */
public record ReluBackwardOp() implements FusedOp {
    @Override public String name() { return "threshold_backward"; }

    @Override public void check(Tensor[] in) {
        if (in.length != 2)
            throw new IllegalArgumentException("threshold_backward: takes (grad, output), got " + in.length + " inputs");
        if (!Arrays.equals(in[0].shape(), in[1].shape()))
            throw new IllegalArgumentException("threshold_backward: grad has shape " + Shape.str(in[0].shape())
                    + " but output has shape " + Shape.str(in[1].shape()) + "; they must be equal");
    }

    @Override public Result compose(Tensor[] in) {
        Tensor g = in[0];
        return new Result(Tensor.where(in[1].le(0), Tensor.zeros(g.dtype(), g.device()), g));
    }

    @Override public Save save(boolean[] needsGrad) { return needsGrad[0] ? Save.inputs(1) : Save.NOTHING; }

    @Override public Tensor[] backward(Saved s, Tensor g) {
        return new Tensor[] {s.needsGrad(0) ? new ReluBackwardOp().apply(g, s.input(1)) : null, null};
    }
}
