package dev.fluxion.tensor;

/**
 * Layer normalization over the last dim: y = (x - mean) / sqrt(var + eps) * weight + bias, biased
 * variance (as torch.nn.functional.layer_norm). Inputs: x (..., C), weight (C), bias (C) -> y (..., C).
 * State: mean and rstd = 1/sqrt(var + eps), one per row: any shape with x.numel()/C elements, in x's dtype
 * or a wider accumulator (the composed default gives (..., 1) in x's dtype; the CUDA kernel [rows] float32).
 * Backward keeps x, weight, mean and rstd (as llm.c's layernorm_forward(out, mean, rstd, ...)), never
 * recomputes the statistics.
 */
public record LayerNormOp(double eps) implements FusedOp {
    public LayerNormOp {
        if (!(eps > 0)) throw new IllegalArgumentException("layerNorm: eps must be > 0, got " + eps);
    }

    @Override public String name() { return "layer_norm"; }

    @Override public void check(Tensor[] in) {
        if (in.length != 3) throw new IllegalArgumentException("layerNorm: takes x, weight and bias, got " + in.length + " inputs");
        Tensor x = in[0], weight = in[1], bias = in[2];
        if (!x.dtype().isFloatingPoint())
            throw new IllegalArgumentException("layerNorm: not defined for " + x.dtype() + " tensors; cast to a floating dtype first");
        Elementwise.checkPair("layerNorm", x, weight);
        Elementwise.checkPair("layerNorm", x, bias);
        int c = x.dim() == 0 ? 0 : x.size(-1);
        if (x.dim() == 0 || weight.dim() != 1 || bias.dim() != 1 || weight.size(0) != c || bias.size(0) != c)
            throw new IllegalArgumentException("layerNorm: input " + Shape.str(x.shape()) + " needs weight and bias of shape [" + c + "], got "
                    + Shape.str(weight.shape()) + " and " + Shape.str(bias.shape()));
    }

    @Override public Result compose(Tensor[] in) {
        Tensor x = in[0];
        Tensor mean = x.mean(-1, true);                                         // (..., 1)
        Tensor centered = x.sub(mean);
        Tensor rstd = centered.mul(centered).mean(-1, true).add(eps).rsqrt();   // (..., 1)
        return new Result(centered.mul(rstd).mul(in[1]).add(in[2]), mean, rstd);
    }

    /** dx needs x and weight, dweight needs x; dbias needs only the gradient. */
    @Override public Save save(boolean[] needsGrad) {
        return needsGrad[0] ? Save.inputs(0, 1) : needsGrad[1] ? Save.inputs(0) : Save.NOTHING;
    }

    /**
     * With xhat = (x - mean) rstd: dx = rstd (g w - mean(g w) - xhat mean(g w xhat)), dweight = sum over
     * rows of g xhat, dbias = sum over rows of g.
     */
    @Override public Tensor[] backward(Saved s, Tensor g) {
        int c = s.shape(0)[s.shape(0).length - 1];
        Tensor dbias = s.needsGrad(2) ? g.reshape(-1, c).sum(0, false) : null;
        if (!s.needsGrad(0) && !s.needsGrad(1)) return new Tensor[] {null, null, dbias};
        Tensor x = s.input(0);
        Tensor rstd = rowStat(s.state(1), x);
        Tensor xhat = x.sub(rowStat(s.state(0), x)).mul(rstd);
        Tensor dweight = s.needsGrad(1) ? g.mul(xhat).reshape(-1, c).sum(0, false) : null;
        Tensor dx = null;
        if (s.needsGrad(0)) {
            Tensor gw = g.mul(s.input(1));
            dx = gw.sub(gw.mean(-1, true)).sub(xhat.mul(gw.mul(xhat).mean(-1, true))).mul(rstd);
        }
        return new Tensor[] {dx, dweight, dbias};
    }

    /** A per-row statistic as (..., 1) in x's dtype, whatever layout the forward kernel gave it. */
    private static Tensor rowStat(Tensor stat, Tensor x) {
        int[] shape = x.shape();
        shape[shape.length - 1] = 1;
        Tensor t = stat.reshape(shape);
        return t.dtype() == x.dtype() ? t : t.to(x.dtype());
    }
}
