package dev.fluxion.tensor;

/**
 * Max over each window: x (N, C, H, W) -> y (N, C, OH, OW), padding counting as -inf (as
 * torch.nn.functional.max_pool2d). State: the argmax of each window as a flat index ih * W + iw into
 * its (H, W) plane, int64 (N, C, OH, OW), the first maximum in window order on ties (as PyTorch), so
 * backward gives each output's whole gradient to exactly one input element. A NaN counts as the maximum.
 */
public record MaxPool2dOp(Window2d window) implements FusedOp {
    public MaxPool2dOp {
        if (Math.max(window.padTop(), window.padBottom()) > window.kh() / 2 || Math.max(window.padLeft(), window.padRight()) > window.kw() / 2)
            throw new IllegalArgumentException("maxPool2d: padding " + window.padTop() + "x" + window.padLeft() + " must be at most half the kernel "
                    + window.kh() + "x" + window.kw() + " (as PyTorch)");
    }

    @Override public String name() { return "max_pool2d"; }

    @Override public void check(Tensor[] in) {
        if (in.length != 1 || in[0].dim() != 4)
            throw new IllegalArgumentException("maxPool2d: takes one (N, C, H, W) input, got " + in.length + " inputs"
                    + (in.length > 0 ? " of shape " + Shape.str(in[0].shape()) : ""));
        if (!in[0].dtype().isFloatingPoint())
            throw new IllegalArgumentException("maxPool2d: not defined for " + in[0].dtype() + " tensors; cast to a floating dtype first");
        window.check("maxPool2d", in[0].size(2), in[0].size(3));
    }

    /**
     * Written with recorded ops only (a -inf border by cat, then {@link Im2ColOp}), so that a create-graph
     * pass can re-run it to differentiate the gradient again.
     */
    @Override public Result compose(Tensor[] in) {
        Tensor x = in[0];
        int n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), oh = window.outH(h), ow = window.outW(w);
        int k = window.kh() * window.kw();
        Tensor xp = pad(pad(x, 2, window.padTop(), window.padBottom()), 3, window.padLeft(), window.padRight());
        Window2d inner = new Window2d(window.kh(), window.kw(), window.sh(), window.sw(), 0, 0, 0, 0, window.dh(), window.dw());
        Tensor win = new Im2ColOp(inner).apply(xp).reshape(c, k, n, oh * ow).permute(2, 0, 3, 1).contiguous();   // (N, C, L, K)
        Tensor arg = win.argmax(-1, true);                                  // first maximum, NaN counts as largest
        Tensor y = win.gather(3, arg).reshape(n, c, oh, ow);
        Tensor table = Tensor.of(window.planeIndex(h, w), oh * ow, k).to(x.device()).unsqueeze(0).unsqueeze(0).expand(n, c, oh * ow, k);
        return new Result(y, table.gather(3, arg).reshape(n, c, oh, ow));
    }

    /** x with before and after rows (or columns) of -inf along dim. */
    private static Tensor pad(Tensor x, int dim, int before, int after) {
        if (before + after == 0) return x;
        java.util.List<Tensor> parts = new java.util.ArrayList<>();
        int[] shape = x.shape();
        if (before > 0) { shape[dim] = before; parts.add(Tensor.full(Double.NEGATIVE_INFINITY, x.dtype(), x.device(), shape.clone())); }
        parts.add(x);
        if (after > 0) { shape[dim] = after; parts.add(Tensor.full(Double.NEGATIVE_INFINITY, x.dtype(), x.device(), shape.clone())); }
        return Tensor.cat(parts, dim);
    }

    /** Backward reads only the indices; x is kept so that a create-graph pass can re-run the composition (as PyTorch keeps it). */
    @Override public Save save(boolean[] needsGrad) { return needsGrad[0] ? Save.inputs(0) : Save.NOTHING; }

    /** dx[n, c, idx] += g: the whole gradient of each window to its (first) maximum. */
    @Override public Tensor[] backward(Saved s, Tensor g) {
        int[] x = s.shape(0);
        int n = x[0], c = x[1];
        Tensor idx = s.state(0).reshape(n, c, -1);
        Tensor dx = Tensor.zeros(g.dtype(), g.device(), n, c, x[2] * x[3]).scatterAdd(2, idx, g.contiguous().reshape(n, c, -1));
        return new Tensor[] {dx.reshape(x)};
    }
}
