package dev.fluxion.tensor;

/**
 * y = x W^T + b, as torch.nn.functional.linear with a bias. Inputs: x (..., in), weight (out, in), bias (out)
 * -> y (..., out). No state. A kernel can start the output as the bias and run one GEMM that adds to it
 * (beta = 1), give the weight gradient in the weight's own (out, in) layout (g^T x, no transposed copy)
 * and the bias gradient as one column sum, where the composition runs a GEMM, a broadcast add and a
 * transpose of the weight gradient.
 */
public record LinearOp() implements FusedOp {
    @Override public String name() { return "linear"; }

    @Override public void check(Tensor[] in) {
        if (in.length != 3) throw new IllegalArgumentException("linear: takes x, weight and bias, got " + in.length + " inputs");
        Tensor x = in[0], w = in[1], b = in[2];
        Elementwise.checkPair("linear", x, w);
        Elementwise.checkPair("linear", x, b);
        if (!x.dtype().isFloatingPoint())
            throw new IllegalArgumentException("linear: not defined for " + x.dtype() + " tensors; cast to a floating dtype first");
        if (x.dim() < 1 || w.dim() != 2 || b.dim() != 1 || x.size(-1) != w.size(1) || b.size(0) != w.size(0))
            throw new IllegalArgumentException("linear: input " + Shape.str(x.shape()) + ", weight " + Shape.str(w.shape()) + ", bias "
                    + Shape.str(b.shape()) + " do not fit (..., in), (out, in), (out)");
    }

    @Override public Result compose(Tensor[] in) { return new Result(in[0].matmul(in[1].t()).add(in[2])); }

    /** dx needs the weight, dweight needs x, dbias only the gradient. */
    @Override public Save save(boolean[] needsGrad) {
        if (needsGrad[0] && needsGrad[1]) return Save.inputs(0, 1);
        return needsGrad[0] ? Save.inputs(1) : needsGrad[1] ? Save.inputs(0) : Save.NOTHING;
    }

    /** With g2 = g as (rows, out): dx = g W, dweight = g2^T x2, dbias = column sums of g2. */
    @Override public Tensor[] backward(Saved s, Tensor g) {
        int[] ws = s.shape(1);
        Tensor g2 = g.reshape(-1, ws[0]);
        Tensor dx = s.needsGrad(0) ? g.matmul(s.input(1)) : null;
        Tensor dw = s.needsGrad(1) ? g2.t().matmul(s.input(0).reshape(-1, ws[1])) : null;
        Tensor db = s.needsGrad(2) ? g2.sum(0, false) : null;
        return new Tensor[] {dx, dw, db};
    }
}
