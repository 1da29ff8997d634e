package dev.fluxion.tensor;

/**
 * The patches of a sliding window as the columns of one matrix (im2col), laid out for a single GEMM per
 * group: x (N, C, H, W) -> cols (C * kh * kw, N * OH * OW), row (c, i, j) holding x[n, c, oh*sh - pad +
 * i*dh, ow*sw - pad + j*dw] (0 in the padding) at column (n, oh, ow). A convolution is then
 * weight (O, C*kh*kw) @ cols. Backward is {@link Col2ImOp} (sum of each column back into its window).
 * The composed default is one strided copy of the padded input ({@link Window2d#windows}); the CPU backend
 * has a kernel that copies rows of the input directly.
 *
 * <pre>{@code
 * Tensor cols = new Im2ColOp(Window2d.of(3, 3, 1, 1, 1, 1, 1, 1)).apply(x);   // (C*9, N*H*W)
 * }</pre>
 */
public record Im2ColOp(Window2d window) implements FusedOp {
    @Override public String name() { return "im2col"; }

    @Override public void check(Tensor[] in) {
        if (in.length != 1 || in[0].dim() != 4)
            throw new IllegalArgumentException("im2col: takes one (N, C, H, W) input, got " + in.length + " inputs"
                    + (in.length > 0 ? " of shape " + Shape.str(in[0].shape()) : ""));
        window.check("im2col", in[0].size(2), in[0].size(3));
    }

    @Override public Result compose(Tensor[] in) {
        Tensor x = in[0];
        int n = x.size(0), c = x.size(1), oh = window.outH(x.size(2)), ow = window.outW(x.size(3));
        Tensor cols = window.windows(x, 0).permute(1, 2, 3, 0, 4, 5).contiguous();   // (C, kh, kw, N, OH, OW)
        return new Result(cols.reshape(c * window.kh() * window.kw(), n * oh * ow));
    }

    @Override public Save save(boolean[] needsGrad) { return Save.NOTHING; }

    @Override public Tensor[] backward(Saved s, Tensor g) {
        int[] x = s.shape(0);
        return new Tensor[] {new Col2ImOp(window, x[0], x[1], x[2], x[3]).apply(g)};
    }
}
