package dev.fluxion.tensor;

/**
 * Where a 2-D sliding window (convolution or pooling) reads: kernel kh x kw, stride, dilation, and padding
 * on each side (top, bottom, left, right; asymmetric for PyTorch's padding='same' with an even kernel).
 * Output size per axis, as PyTorch: (in + padBefore + padAfter - dilation (k - 1) - 1) / stride + 1.
 *
 * <pre>{@code
 * Window2d w = Window2d.of(3, 3, 1, 1, 1, 1, 1, 1);   // 3x3, stride 1, padding 1, dilation 1
 * int oh = w.outH(28);                              // 28
 * }</pre>
 */
public record Window2d(int kh, int kw, int sh, int sw, int padTop, int padBottom, int padLeft, int padRight, int dh, int dw) {
    public Window2d {
        if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || padTop < 0 || padBottom < 0 || padLeft < 0 || padRight < 0)
            throw new IllegalArgumentException("window: kernel " + kh + "x" + kw + ", stride " + sh + "x" + sw + ", dilation " + dh + "x" + dw
                    + " must be positive and padding (" + padTop + ", " + padBottom + ", " + padLeft + ", " + padRight + ") >= 0");
    }

    /** A window with symmetric padding ph (top and bottom) and pw (left and right). */
    public static Window2d of(int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw) {
        return new Window2d(kh, kw, sh, sw, ph, ph, pw, pw, dh, dw);
    }

    /** Output height for an input of height h. */
    public int outH(int h) { return out(h + padTop + padBottom, kh, dh, sh); }

    /** Output width for an input of width w. */
    public int outW(int w) { return out(w + padLeft + padRight, kw, dw, sw); }

    private static int out(int padded, int k, int d, int s) {
        int span = d * (k - 1) + 1;
        return padded < span ? 0 : (padded - span) / s + 1;
    }

    /** Throws naming op when an input of h x w gives no output position. */
    void check(String op, int h, int w) {
        if (outH(h) <= 0 || outW(w) <= 0)
            throw new IllegalArgumentException(op + ": input " + h + "x" + w + " padded by (" + padTop + ", " + padBottom + ", " + padLeft + ", " + padRight
                    + ") is smaller than the dilated kernel " + (dh * (kh - 1) + 1) + "x" + (dw * (kw - 1) + 1));
    }

    /**
     * x (N, C, H, W) padded with value and seen as (N, C, kh, kw, OH, OW) through strides (no copy of the
     * windows themselves; a copy only when padding is needed). Written with ops, for the composed defaults.
     */
    Tensor windows(Tensor x, double value) {
        int n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
        Tensor xp = x;
        if (padTop + padBottom + padLeft + padRight > 0) {
            xp = Tensor.full(value, x.dtype(), x.device(), n, c, h + padTop + padBottom, w + padLeft + padRight);
            xp.narrow(2, padTop, h).narrow(3, padLeft, w).copy_(x);
        } else {
            xp = x.contiguous();
        }
        int hp = xp.size(2), wp = xp.size(3);
        long plane = (long) hp * wp;
        return xp.asStrided(new int[] {n, c, kh, kw, outH(h), outW(w)},
                new long[] {c * plane, plane, (long) dh * wp, dw, (long) sh * wp, sw}, xp.offset());
    }

    /** Flat index ih * W + iw of each window element in the unpadded plane, (OH, OW, kh*kw); -1 where padding. */
    long[] planeIndex(int h, int w) {
        int oh = outH(h), ow = outW(w), k = kh * kw;
        long[] idx = new long[oh * ow * k];
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
                for (int a = 0; a < kh; a++)
                    for (int b = 0; b < kw; b++) {
                        int ih = i * sh - padTop + a * dh, iw = j * sw - padLeft + b * dw;
                        idx[((i * ow + j) * k) + a * kw + b] = ih < 0 || ih >= h || iw < 0 || iw >= w ? -1 : (long) ih * w + iw;
                    }
        return idx;
    }
}
