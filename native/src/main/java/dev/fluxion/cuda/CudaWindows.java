package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * The sliding-window kernels of convolution and pooling on a GPU (window.cu): im2col, col2im (its adjoint, the
 * input gradient of a convolution and the core of a transposed one), and max pooling returning each window's
 * argmax with the backward that reads it. Convolution is then one cuBLAS GEMM, weight (O, C*kh*kw) @ cols.
 * Layouts and semantics are those of the tensor module's im2col / col2im / max-pool fused ops; these are the
 * kernels a registration for them calls. float32, float64, float16 and bfloat16; inputs of any layout (copied
 * to contiguous first).
 */
final class CudaWindows {
    private CudaWindows() {}

    /**
     * Where a window reads, as the tensor module's Window2d: kernel kh x kw, stride sh x sw, padding top, bottom,
     * left, right, dilation dh x dw. Output size per axis: (in + padBefore + padAfter - dilation (k - 1) - 1) / stride + 1.
     */
    record Geometry(int kh, int kw, int sh, int sw, int pt, int pb, int pl, int pr, int dh, int dw) {
        Geometry {
            if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || pt < 0 || pb < 0 || pl < 0 || pr < 0)
                throw new IllegalArgumentException("window: kernel " + kh + "x" + kw + ", stride " + sh + "x" + sw + ", dilation " + dh + "x" + dw
                        + " must be positive and padding (" + pt + ", " + pb + ", " + pl + ", " + pr + ") >= 0");
        }

        int outH(int h) { return out(h + pt + pb, kh, dh, sh); }

        int outW(int w) { return out(w + pl + pr, kw, dw, sw); }

        private static int out(int padded, int k, int d, int s) {
            int span = d * (k - 1) + 1;
            return padded < span ? 0 : (padded - span) / s + 1;
        }

        void check(String op, int h, int w) {
            if (outH(h) <= 0 || outW(w) <= 0)
                throw new IllegalArgumentException(op + ": input " + h + "x" + w + " padded by (" + pt + ", " + pb + ", " + pl + ", " + pr
                        + ") is smaller than the dilated kernel " + (dh * (kh - 1) + 1) + "x" + (dw * (kw - 1) + 1));
        }
    }

    /** The max pool's output and the flat index ih * W + iw of each window's (first) maximum, int64. */
    record Pooled(Tensor y, Tensor indices) {}

    /** x (N, C, H, W) -> cols (C*kh*kw, N*OH*OW), 0 in the padding. */
    static Tensor im2col(Tensor x, Geometry g) {
        CudaDevice d = device("im2col", x, 4);
        int n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
        g.check("im2col", h, w);
        int oh = g.outH(h), ow = g.outW(w);
        Tensor xc = CudaReduce.contiguous(d, x);
        Tensor cols = Tensor.empty(x.dtype(), d.device, Shape.dimSize("im2col", (long) c * g.kh() * g.kw()), Shape.dimSize("im2col", (long) n * oh * ow));
        if (cols.numel() > 0) d.kernels.launch("fx_im2col_" + Codes.suffix(x.dtype()), cols.numel(), window(KernelArgs.start().ptr(xc).ptr(cols), n, c, h, w, g));
        Fused.release(xc, x);
        return cols;
    }

    /** cols (C*kh*kw, N*OH*OW) -> x (N, C, H, W): each column entry added back where its window read. */
    static Tensor col2im(Tensor cols, int n, int c, int h, int w, Geometry g) {
        CudaDevice d = device("col2im", cols, 2);
        g.check("col2im", h, w);
        long rows = (long) c * g.kh() * g.kw(), columns = (long) n * g.outH(h) * g.outW(w);
        if (cols.size(0) != rows || cols.size(1) != columns)
            throw new IllegalArgumentException("col2im: for output (" + n + ", " + c + ", " + h + ", " + w + ") expects cols [" + rows + ", " + columns
                    + "], got " + Shape.str(cols.shape()));
        Tensor cc = CudaReduce.contiguous(d, cols);
        Tensor x = Tensor.empty(cols.dtype(), d.device, n, c, h, w);
        if (x.numel() > 0) d.kernels.launch("fx_col2im_" + Codes.suffix(cols.dtype()), x.numel(), window(KernelArgs.start().ptr(cc).ptr(x), n, c, h, w, g));
        Fused.release(cc, cols);
        return x;
    }

    /** Max over each window of x (N, C, H, W), padding never chosen; NaN counts as the maximum. */
    static Pooled maxPool(Tensor x, Geometry g) {
        CudaDevice d = device("maxPool2d", x, 4);
        int n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
        g.check("maxPool2d", h, w);
        if (Math.max(g.pt(), g.pb()) > g.kh() / 2 || Math.max(g.pl(), g.pr()) > g.kw() / 2)
            throw new IllegalArgumentException("maxPool2d: padding " + g.pt() + "x" + g.pl() + " must be at most half the kernel " + g.kh() + "x" + g.kw() + " (as PyTorch)");
        int oh = g.outH(h), ow = g.outW(w);
        Tensor xc = CudaReduce.contiguous(d, x);
        Tensor y = Tensor.empty(x.dtype(), d.device, n, c, oh, ow), idx = Tensor.empty(DType.INT64, d.device, n, c, oh, ow);
        if (y.numel() > 0)
            d.kernels.launch("fx_max_pool_fwd_" + Codes.suffix(x.dtype()), y.numel(), window(KernelArgs.start().ptr(xc).ptr(y).ptr(idx), n, c, h, w, g));
        Fused.release(xc, x);
        return new Pooled(y, idx);
    }

    /** dx (N, C, H, W) from the output gradient (N, C, OH, OW) and the forward's indices: each window's gradient to its maximum. */
    static Tensor maxPoolBackward(Tensor grad, Tensor indices, int n, int c, int h, int w, Geometry g) {
        CudaDevice d = device("maxPool2d backward", grad, 4);
        int[] want = {n, c, g.outH(h), g.outW(w)};
        if (!java.util.Arrays.equals(grad.shape(), want) || !java.util.Arrays.equals(indices.shape(), want) || indices.dtype() != DType.INT64)
            throw new IllegalArgumentException("maxPool2d backward: expects the gradient and int64 indices of shape " + Shape.str(want) + ", got "
                    + Shape.str(grad.shape()) + " and " + indices.dtype() + " " + Shape.str(indices.shape()));
        Tensor gc = CudaReduce.contiguous(d, grad), ic = CudaReduce.contiguous(d, indices);
        Tensor dx = Tensor.empty(grad.dtype(), d.device, n, c, h, w);
        if (dx.numel() > 0)
            d.kernels.launch("fx_max_pool_bwd_" + Codes.suffix(grad.dtype()), dx.numel(), window(KernelArgs.start().ptr(gc).ptr(ic).ptr(dx), n, c, h, w, g));
        Fused.release(gc, grad);
        Fused.release(ic, indices);
        return dx;
    }

    private static CudaDevice device(String op, Tensor t, int rank) {
        CudaDevice d = Fused.device(op, t);
        if (t.dim() != rank) throw new IllegalArgumentException(op + ": expects a rank-" + rank + " tensor, got " + Shape.str(t.shape()));
        DType dt = t.dtype();
        if (dt != DType.FLOAT32 && dt != DType.FLOAT64 && dt != DType.FLOAT16 && dt != DType.BFLOAT16)
            throw new IllegalArgumentException(op + ": float32, float64, float16 or bfloat16 on CUDA, got " + dt);
        return d;
    }

    /** The geometry arguments every window.cu kernel takes after its pointers. */
    private static KernelArgs window(KernelArgs a, int n, int c, int h, int w, Geometry g) {
        return a.i32(n).i32(c).i32(h).i32(w).i32(g.outH(h)).i32(g.outW(w)).i32(g.kh()).i32(g.kw()).i32(g.sh()).i32(g.sw())
                .i32(g.pt()).i32(g.pl()).i32(g.dh()).i32(g.dw());
    }
}
