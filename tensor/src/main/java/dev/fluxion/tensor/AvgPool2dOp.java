package dev.fluxion.tensor;

/**
 * Mean over each window, zero padding counted in the divisor (as torch.nn.functional.avg_pool2d with
 * count_include_pad=True, ceil_mode=False): x (N, C, H, W) -> y (N, C, OH, OW), every window divided by
 * kh * kw. No state; the backward keeps nothing but shapes (each window's gradient / (kh * kw) added back
 * where it read). The composed default is {@link #im2colMean}; the CUDA backend registers cuDNN's pooling.
 *
 * <pre>{@code
 * Tensor y = new AvgPool2dOp(Window2d.of(2, 2, 2, 2, 0, 0, 1, 1)).apply(x);   // (N, C, H/2, W/2)
 * }</pre>
 *
 * @param window kernel, stride, padding and dilation
 */
public record AvgPool2dOp(Window2d window) implements FusedOp {
    public AvgPool2dOp {
        if (window == null) throw new IllegalArgumentException("avgPool2d: window must not be null");
    }

    @Override public String name() { return "avg_pool2d"; }

    @Override public void check(Tensor[] in) {
        if (in.length != 1 || in[0].dim() != 4)
            throw new IllegalArgumentException("avgPool2d: takes one (N, C, H, W) input, got " + in.length + " inputs"
                    + (in.length > 0 ? " of shape " + Shape.str(in[0].shape()) : ""));
        if (!in[0].dtype().isFloatingPoint())
            throw new IllegalArgumentException("avgPool2d: not defined for " + in[0].dtype() + " tensors; cast to a floating dtype first");
        window.check("avgPool2d", in[0].size(2), in[0].size(3));
    }

    @Override public Result compose(Tensor[] in) { return new Result(im2colMean(in[0], window)); }

    /**
     * The pooling as im2col + a mean over each column's window, written with ops: the composed default, and what
     * nn's avgPool2d records on the CPU. x (N, C, H, W), checked by the caller.
     */
    public static Tensor im2colMean(Tensor x, Window2d win) {
        int n = x.size(0), c = x.size(1), oh = win.outH(x.size(2)), ow = win.outW(x.size(3));
        Tensor cols = new Im2ColOp(win).apply(x).reshape(c, win.kh() * win.kw(), n, oh * ow);
        return cols.mean(1, false).permute(1, 0, 2).contiguous().reshape(n, c, oh, ow);
    }

    @Override public Save save(boolean[] needsGrad) { return Save.NOTHING; }

    /** dx = col2im of g / (kh kw) repeated over each window's kh * kw rows. */
    @Override public Tensor[] backward(Saved s, Tensor g) {
        int[] x = s.shape(0);
        int n = x[0], c = x[1], k = window.kh() * window.kw();
        int l = window.outH(x[2]) * window.outW(x[3]);
        Tensor per = g.div(k).reshape(n, c, 1, l).permute(1, 2, 0, 3);          // (C, 1, N, L) view
        Tensor cols = per.expand(c, k, n, l).contiguous().reshape(c * k, n * l);  // (C*kh*kw, N*L)
        return new Tensor[] {new Col2ImOp(window, n, c, x[2], x[3]).apply(cols)};
    }
}
