package dev.fluxion.tensor;

/**
 * 2-D convolution (cross-correlation, as torch.nn.functional.conv2d): x (N, C, H, W), weight
 * (O, C/groups, kh, kw) and, when present, bias (O) -> y (N, O, OH, OW). No state: the backward keeps x
 * and the weight only (as PyTorch's cuDNN path) and recomputes the patches of x for the weight gradient.
 * The composed default is {@link #im2colGemm}: one {@link Im2ColOp} and one GEMM per group. A backend
 * registers a direct kernel for it (the CUDA backend: cuDNN).
 *
 * <pre>{@code
 * Tensor y = new Conv2dOp(Window2d.of(3, 3, 1, 1, 1, 1, 1, 1), 1).apply(x, weight, bias);   // bias may be left out
 * }</pre>
 *
 * @param window kernel, stride, padding and dilation
 * @param groups the channel groups (C and O are multiples of it)
 */
public record Conv2dOp(Window2d window, int groups) implements FusedOp {
    public Conv2dOp {
        if (window == null) throw new IllegalArgumentException("conv2d: window must not be null");
        if (groups <= 0) throw new IllegalArgumentException("conv2d: groups must be positive, got " + groups);
    }

    @Override public String name() { return "conv2d"; }

    @Override public void check(Tensor[] in) {
        if (in.length != 2 && in.length != 3)
            throw new IllegalArgumentException("conv2d: takes x, weight and an optional bias, got " + in.length + " inputs");
        Tensor x = in[0], w = in[1];
        if (x.dim() != 4 || w.dim() != 4 || x.size(1) != w.size(1) * groups || w.size(0) % groups != 0)
            throw new IllegalArgumentException("conv2d: input " + Shape.str(x.shape()) + " and weight " + Shape.str(w.shape()) + " with groups=" + groups
                    + " must be (N, C, H, W) and (O, C/groups, kh, kw), O a multiple of groups");
        if (w.size(2) != window.kh() || w.size(3) != window.kw())
            throw new IllegalArgumentException("conv2d: weight " + Shape.str(w.shape()) + " does not match the window " + window);
        if (!x.dtype().isFloatingPoint())
            throw new IllegalArgumentException("conv2d: not defined for " + x.dtype() + " tensors; cast to a floating dtype first");
        Elementwise.checkPair("conv2d", x, w);
        if (in.length == 3) {
            Elementwise.checkPair("conv2d", x, in[2]);
            if (in[2].dim() != 1 || in[2].size(0) != w.size(0))
                throw new IllegalArgumentException("conv2d: bias must be [" + w.size(0) + "] for weight " + Shape.str(w.shape()) + ", got " + Shape.str(in[2].shape()));
        }
        window.check("conv2d", x.size(2), x.size(3));
    }

    @Override public Result compose(Tensor[] in) { return new Result(im2colGemm(in[0], in[1], in.length == 3 ? in[2] : null, window, groups)); }

    /**
     * The convolution as im2col + one GEMM per group (+ bias), written with ops: the composed default, and what
     * nn's conv2d records on the CPU (whose im2col kernel and GEMM make it the fast path there). Arguments as
     * the op's inputs (checked by the caller); bias may be null.
     */
    public static Tensor im2colGemm(Tensor x, Tensor weight, Tensor bias, Window2d win, int groups) {
        int n = x.size(0), o = weight.size(0), ck = weight.size(1) * win.kh() * win.kw();
        int oh = win.outH(x.size(2)), ow = win.outW(x.size(3)), l = oh * ow;
        Tensor cols = new Im2ColOp(win).apply(x);                       // (C*kh*kw, N*L)
        Tensor y = groups == 1 ? weight.reshape(o, ck).matmul(cols)     // (O, N*L)
                : weight.reshape(groups, o / groups, ck).matmul(cols.reshape(groups, ck, n * l)).reshape(o, n * l);
        Tensor nol = y.reshape(o, n, l).permute(1, 0, 2);               // (N, O, L) view
        // the bias add writes (N, O, L) in order, so it is also the layout copy
        nol = bias == null ? nol.contiguous() : nol.add(bias.reshape(o, 1));
        return nol.reshape(n, o, oh, ow);
    }

    /** dx needs the weight, dweight needs x (its patches are recomputed), dbias only the gradient. */
    @Override public Save save(boolean[] needsGrad) {
        if (needsGrad[0] && needsGrad[1]) return Save.inputs(0, 1);
        return needsGrad[0] ? Save.inputs(1) : needsGrad[1] ? Save.inputs(0) : Save.NOTHING;
    }

    /**
     * With g2 = g as (O, N*L) and per group: dx = col2im(W^T g2), dweight = g2 im2col(x)^T, dbias = the sum of g
     * over N, OH, OW.
     */
    @Override public Tensor[] backward(Saved s, Tensor g) {
        int[] xs = s.shape(0), ws = s.shape(1);
        int n = xs[0], c = xs[1], o = ws[0], ck = ws[1] * window.kh() * window.kw(), og = o / groups;
        int cols = Shape.dimSize("conv2d backward", (long) n * window.outH(xs[2]) * window.outW(xs[3]));
        Tensor[] grads = new Tensor[s.inputCount()];
        if (s.inputCount() == 3 && s.needsGrad(2)) grads[2] = g.sum(new int[] {0, 2, 3}, false);
        if (!s.needsGrad(0) && !s.needsGrad(1)) return grads;
        Tensor g2 = g.permute(1, 0, 2, 3).reshape(o, cols);              // (O, N*L)
        if (s.needsGrad(0)) {
            Tensor w = s.input(1);
            Tensor dcols = groups == 1 ? w.reshape(o, ck).t().matmul(g2)     // (C*kh*kw, N*L)
                    : w.reshape(groups, og, ck).transpose(1, 2).matmul(g2.reshape(groups, og, cols)).reshape(groups * ck, cols);
            grads[0] = new Col2ImOp(window, n, c, xs[2], xs[3]).apply(dcols);
        }
        if (s.needsGrad(1)) {
            Tensor patches = new Im2ColOp(window).apply(s.input(0));         // (C*kh*kw, N*L)
            Tensor dw = groups == 1 ? g2.matmul(patches.t())                 // (O, C/groups*kh*kw)
                    : g2.reshape(groups, og, cols).matmul(patches.reshape(groups, ck, cols).transpose(1, 2));
            grads[1] = dw.reshape(ws);
        }
        return grads;
    }
}
