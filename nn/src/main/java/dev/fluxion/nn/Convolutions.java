package dev.fluxion.nn;

import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.AvgPool2dOp;
import dev.fluxion.tensor.Col2ImOp;
import dev.fluxion.tensor.Conv2dOp;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Im2ColOp;
import dev.fluxion.tensor.MaxPool2dOp;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.Window2d;

/**
 * The math of convolution and pooling layers, behind {@link Functional}'s entry points: each convolution
 * is one im2col ({@link Im2ColOp}, laid out (C*kh*kw, N*OH*OW)) and one GEMM per group, as PyTorch's CPU
 * path, recorded op by op on the CPU and one {@link Conv2dOp} elsewhere; a transposed convolution is the GEMM
 * then {@link Col2ImOp}.
 */
final class Convolutions {
    private Convolutions() {}

    /** The window of a 2-D convolution with options, for a kernel kh x kw. */
    static Window2d window(String op, int kh, int kw, ConvOptions o) {
        int[] s = ConvOptions.perDim(op, "stride", o.stride(), 2), d = ConvOptions.perDim(op, "dilation", o.dilation(), 2);
        if (o.paddingMode() == null) {
            int[] p = ConvOptions.perDim(op, "padding", o.padding(), 2);
            return Window2d.of(kh, kw, s[0], s[1], p[0], p[1], d[0], d[1]);
        }
        if (o.paddingMode().equals("valid")) return Window2d.of(kh, kw, s[0], s[1], 0, 0, d[0], d[1]);
        if (s[0] != 1 || s[1] != 1)
            throw new IllegalArgumentException(op + ": padding=\"same\" needs stride 1 (as PyTorch), got " + java.util.Arrays.toString(s));
        int th = d[0] * (kh - 1), tw = d[1] * (kw - 1);                 // total padding; the odd one goes at the end
        return new Window2d(kh, kw, 1, 1, th / 2, th - th / 2, tw / 2, tw - tw / 2, d[0], d[1]);
    }

    /**
     * x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O) or null -> (N, O, OH, OW). On the CPU the im2col + GEMM
     * math ({@link Conv2dOp#im2colGemm}) is recorded op by op, unchanged: its im2col kernel and GEMM were tuned
     * there (the CPU CNN training step runs at 1.22x PyTorch's speed). Elsewhere it is one {@link Conv2dOp},
     * which a backend runs as one kernel (cuDNN on CUDA) with its own backward.
     */
    static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, Window2d win, int groups) {
        x = Autocast.cast(Autocast.Policy.LOWER, x);                    // before im2col, which then moves 16-bit patches
        weight = Autocast.cast(Autocast.Policy.LOWER, weight);
        bias = Autocast.cast(Autocast.Policy.LOWER, bias);
        Conv2dOp op = new Conv2dOp(win, groups);
        op.check(bias == null ? new Tensor[] {x, weight} : new Tensor[] {x, weight, bias});
        if (x.device().kind() == Device.Kind.CPU) return Conv2dOp.im2colGemm(x, weight, bias, win, groups);
        return bias == null ? op.apply(x, weight) : op.apply(x, weight, bias);
    }

    /**
     * Transposed convolution (the input gradient of conv2d). x (N, Cin, H, W), weight (Cin, Cout/groups, kh, kw),
     * bias (Cout) or null -> (N, Cout, OH, OW), OH = (H-1) sh - 2 ph + dh (kh-1) + outputPadding + 1.
     */
    static Tensor convTranspose2d(Tensor x, Tensor weight, Tensor bias, Window2d win, int[] outputPadding, int groups) {
        if (x.dim() != 4 || weight.dim() != 4 || groups <= 0 || x.size(1) != weight.size(0) || weight.size(0) % groups != 0)
            throw new IllegalArgumentException("convTranspose2d: input " + Shape.str(x.shape()) + " and weight " + Shape.str(weight.shape()) + " with groups="
                    + groups + " must be (N, Cin, H, W) and (Cin, Cout/groups, kh, kw), Cin a multiple of groups");
        x = Autocast.cast(Autocast.Policy.LOWER, x);
        weight = Autocast.cast(Autocast.Policy.LOWER, weight);
        bias = Autocast.cast(Autocast.Policy.LOWER, bias);
        int n = x.size(0), cin = x.size(1), h = x.size(2), w = x.size(3), coutG = weight.size(1), cout = coutG * groups;
        int k = win.kh() * win.kw();
        int oh = (h - 1) * win.sh() - win.padTop() - win.padBottom() + win.dh() * (win.kh() - 1) + outputPadding[0] + 1;
        int ow = (w - 1) * win.sw() - win.padLeft() - win.padRight() + win.dw() * (win.kw() - 1) + outputPadding[1] + 1;
        if (outputPadding[0] >= Math.max(win.sh(), win.dh()) || outputPadding[1] >= Math.max(win.sw(), win.dw()) || outputPadding[0] < 0 || outputPadding[1] < 0)
            throw new IllegalArgumentException("convTranspose2d: output padding " + java.util.Arrays.toString(outputPadding)
                    + " must be >= 0 and smaller than stride or dilation (as PyTorch)");
        if (oh <= 0 || ow <= 0 || win.outH(oh) != h || win.outW(ow) != w)
            throw new IllegalArgumentException("convTranspose2d: input " + Shape.str(x.shape()) + " gives no valid output size (" + oh + "x" + ow + ")");
        Tensor xs = x.permute(1, 0, 2, 3).reshape(groups, cin / groups, n * h * w);          // (g, Cin/g, N*H*W)
        Tensor wt = weight.reshape(groups, cin / groups, coutG * k).transpose(1, 2);          // (g, Cout/g*K, Cin/g)
        Tensor cols = wt.matmul(xs).reshape(cout * k, n * h * w);                             // (Cout*K, N*H*W)
        Tensor y = new Col2ImOp(win, n, cout, oh, ow).apply(cols);
        return bias == null ? y : y.add(bias.reshape(cout, 1, 1));
    }

    /** Max over windows; padding counts as -inf. x (N, C, H, W) -> (N, C, OH, OW). */
    static Tensor maxPool2d(Tensor x, Window2d win) { return new MaxPool2dOp(win).apply(x); }

    /**
     * Mean over windows, zero padding counted (PyTorch's count_include_pad=True). The CPU records the im2col + mean
     * math ({@link AvgPool2dOp#im2colMean}) as before; elsewhere it is one {@link AvgPool2dOp} (cuDNN pooling on CUDA).
     */
    static Tensor avgPool2d(Tensor x, Window2d win) {
        AvgPool2dOp op = new AvgPool2dOp(win);
        op.check(new Tensor[] {x});
        return x.device().kind() == Device.Kind.CPU ? AvgPool2dOp.im2colMean(x, win) : op.apply(x);
    }

    /** The patches of x, (N, C, OH*OW, kh*kw). */
    static Tensor unfold(Tensor x, Window2d win) {
        if (x.dim() != 4) throw new IllegalArgumentException("unfold: expects (N, C, H, W), got " + Shape.str(x.shape()));
        int n = x.size(0), c = x.size(1), l = win.outH(x.size(2)) * win.outW(x.size(3)), k = win.kh() * win.kw();
        return new Im2ColOp(win).apply(x).reshape(c, k, n, l).permute(2, 0, 3, 1);
    }
}
