package dev.fluxion.tensor;

/**
 * The adjoint of {@link Im2ColOp} (col2im): cols (C * kh * kw, N * OH * OW) -> x (N, C, H, W), each column
 * element added into the input position its window read (padding positions dropped). It is im2col's input
 * gradient and, as a forward op, the core of a transposed convolution. Backward is {@link Im2ColOp}.
 * The composed default is one index_add over the padded planes; the CPU backend has a direct kernel.
 *
 * @param n batch size of the result
 * @param c channels of the result
 * @param h height of the result
 * @param w width of the result
 */
public record Col2ImOp(Window2d window, int n, int c, int h, int w) implements FusedOp {
    @Override public String name() { return "col2im"; }

    /** Rows and columns of the cols matrix this op takes. */
    int rows() { return c * window.kh() * window.kw(); }

    int columns() { return n * window.outH(h) * window.outW(w); }

    @Override public void check(Tensor[] in) {
        if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
            throw new IllegalArgumentException("col2im: output size (" + n + ", " + c + ", " + h + ", " + w + ") must be positive");
        window.check("col2im", h, w);
        if (in.length != 1 || in[0].dim() != 2 || in[0].size(0) != rows() || in[0].size(1) != columns())
            throw new IllegalArgumentException("col2im: for output (" + n + ", " + c + ", " + h + ", " + w + ") expects one input of shape ["
                    + rows() + ", " + columns() + "], got " + (in.length == 1 ? Shape.str(in[0].shape()) : in.length + " inputs"));
    }

    @Override public Result compose(Tensor[] in) {
        int k = window.kh() * window.kw(), l = window.outH(h) * window.outW(w);
        long[] plane = window.planeIndex(h, w);                         // (L, K), -1 in the padding
        long[] idx = new long[k * l];                                   // (K, L) with padding sent to an extra slot
        for (int p = 0; p < l; p++)
            for (int q = 0; q < k; q++) idx[q * l + p] = plane[p * k + q] < 0 ? (long) h * w : plane[p * k + q];
        Tensor src = in[0].reshape(c, k, n, l).permute(2, 0, 1, 3).reshape(n, c, k * l);
        Tensor acc = Tensor.zeros(in[0].dtype(), in[0].device(), n, c, h * w + 1)
                .indexAdd(2, Tensor.of(idx, idx.length).to(in[0].device()), src);
        return new Result(acc.narrow(2, 0, h * w).reshape(n, c, h, w));
    }

    @Override public Save save(boolean[] needsGrad) { return Save.NOTHING; }

    @Override public Tensor[] backward(Saved s, Tensor g) { return new Tensor[] {new Im2ColOp(window).apply(g)}; }
}
