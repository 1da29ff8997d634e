package dev.fluxion.nn;

import dev.fluxion.tensor.AttentionOp;
import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.DropoutOp;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.PadMode;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.Window2d;

import java.util.List;

/** The math of the layers as functions (torch.nn.functional): modules hold state, these compute. */
public final class Functional {
    private Functional() {}

    /**
     * y = x W^T + b.  x: (..., in), W: (out, in), b: (out) or null -> (..., out). Under {@link Autocast} all
     * three are cast to the scope's dtype and y has it (the bias too, so that y is not promoted back to float32).
     */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        if (x.size(-1) != weight.size(1))
            throw new IllegalArgumentException("linear: input features " + x.size(-1) + " (input shape " + Shape.str(x.shape())
                    + ") do not match weight shape " + Shape.str(weight.shape()) + " (out, in)");
        x = Autocast.cast(Autocast.Policy.LOWER, x);
        weight = Autocast.cast(Autocast.Policy.LOWER, weight);
        bias = Autocast.cast(Autocast.Policy.LOWER, bias);
        return bias == null ? x.matmul(weight.t()) : new dev.fluxion.tensor.LinearOp().apply(x, weight, bias);   // one fused op
    }

    /** Normalizes over the last dim: (x - mean) / sqrt(var + eps) * w + b (biased variance, as PyTorch). float32 under autocast. */
    public static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        x = Autocast.cast(Autocast.Policy.FLOAT32, x);
        if (weight != null && bias != null) return x.layerNorm(weight, bias, eps);   // one fused op
        Tensor centered = x.sub(x.mean(-1, true));
        Tensor var = centered.mul(centered).mean(-1, true);
        Tensor y = centered.mul(var.add(eps).rsqrt());
        if (weight != null) y = y.mul(weight);
        return bias == null ? y : y.add(bias);
    }

    /** x / sqrt(mean(x^2) + eps) * w over the last dim. float32 under autocast. */
    public static Tensor rmsNorm(Tensor x, Tensor weight, double eps) {
        x = Autocast.cast(Autocast.Policy.FLOAT32, x);
        Tensor y = x.mul(x.mul(x).mean(-1, true).add(eps).rsqrt());
        return weight == null ? y : y.mul(weight);
    }

    /** Dropout drawing its mask from the global generator ({@link Generator#manualSeed}). */
    public static Tensor dropout(Tensor x, double p) { return dropout(x, p, Generator.global()); }

    /**
     * Zeroes each element with probability p and scales the rest by 1/(1-p); identity when p == 0, zeros when
     * p == 1. On the CPU the mask comes from the generator's own stream; elsewhere it is one {@link DropoutOp}
     * keyed by the generator's next value (on a GPU one kernel writing y and a 1-byte mask, one for the backward).
     */
    public static Tensor dropout(Tensor x, double p, Generator generator) {
        Checks.probabilityOrOne("dropout", "p", p);
        if (p == 0) return x;
        if (x.device().kind() != Device.Kind.CPU) return DropoutOp.drawn(p, generator).apply(x);
        Tensor keep = Tensor.rand(generator, DType.FLOAT32, x.device(), x.shape()).ge(p);
        return Tensor.where(keep, x.mul(p < 1 ? 1 / (1 - p) : 0), Tensor.zerosLike(x));
    }

    /**
     * Patches of x for a sliding window (im2col). x: (N, C, H, W) -> (N, C, OH*OW, kh*kw), zero-padded by
     * padding on each side. One strided copy ({@link dev.fluxion.tensor.Im2ColOp}); its gradient is col2im.
     */
    public static Tensor unfold(Tensor x, int kh, int kw, int stride, int padding) {
        return Convolutions.unfold(x, Window2d.of(kh, kw, stride, stride, padding, padding, 1, 1));
    }

    /**
     * 2-D convolution with a square kernel. x: (N, C, H, W), weight: (O, C, kh, kw), bias: (O) or null ->
     * (N, O, OH, OW). Under {@link Autocast} it runs (im2col included) in the scope's dtype and returns it.
     */
    public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding) {
        return conv2d(x, weight, bias, ConvOptions.DEFAULT.withStride(stride).withPadding(padding));
    }

    /**
     * 2-D convolution as torch.nn.functional.conv2d: x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O)
     * or null -> (N, O, OH, OW), with options' stride, padding (sizes, "same" or "valid"), dilation and groups
     * (options.bias() is ignored: pass bias or null) and padding mode. One im2col and one GEMM per group.
     */
    public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, ConvOptions options) {
        if (weight.dim() != 4) throw new IllegalArgumentException("conv2d: weight must be (O, C/groups, kh, kw), got " + Shape.str(weight.shape()));
        Window2d win = Convolutions.window("conv2d", weight.size(2), weight.size(3), options);
        if (options.padMode() != PadMode.CONSTANT) {                   // PyTorch's non-zero padding_mode: pad first, then no padding
            x = x.pad(new int[] {win.padLeft(), win.padRight(), win.padTop(), win.padBottom()}, options.padMode(), 0);
            win = new Window2d(win.kh(), win.kw(), win.sh(), win.sw(), 0, 0, 0, 0, win.dh(), win.dw());
        }
        return Convolutions.conv2d(x, weight, bias, win, options.groups());
    }

    /**
     * 1-D convolution as torch.nn.functional.conv1d: x (N, C, L), weight (O, C/groups, k), bias (O) or null
     * -> (N, O, OL); runs as conv2d over a height of 1.
     */
    public static Tensor conv1d(Tensor x, Tensor weight, Tensor bias, ConvOptions options) {
        if (x.dim() != 3 || weight.dim() != 3)
            throw new IllegalArgumentException("conv1d: input " + Shape.str(x.shape()) + " and weight " + Shape.str(weight.shape()) + " must be (N, C, L) and (O, C/groups, k)");
        ConvOptions o2 = new ConvOptions(new int[] {1, ConvOptions.perDim("conv1d", "stride", options.stride(), 1)[0]},
                options.paddingMode() != null ? new int[] {0} : new int[] {0, ConvOptions.perDim("conv1d", "padding", options.padding(), 1)[0]},
                options.paddingMode(), new int[] {1, ConvOptions.perDim("conv1d", "dilation", options.dilation(), 1)[0]}, options.groups(), options.bias(),
                options.padMode());
        Tensor y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, o2);
        return y.reshape(y.size(0), y.size(1), y.size(3));
    }

    /**
     * Transposed 2-D convolution as torch.nn.functional.conv_transpose2d: x (N, Cin, H, W), weight
     * (Cin, Cout/groups, kh, kw), bias (Cout) or null -> (N, Cout, (H-1) stride - 2 padding + dilation (kh-1)
     * + outputPadding + 1, ...). options' padding must be sizes (not "same"/"valid").
     */
    public static Tensor convTranspose2d(Tensor x, Tensor weight, Tensor bias, ConvOptions options, int... outputPadding) {
        if (options.paddingMode() != null) throw new IllegalArgumentException("convTranspose2d: padding must be sizes, got \"" + options.paddingMode() + "\"");
        if (options.padMode() != PadMode.CONSTANT) throw new IllegalArgumentException("convTranspose2d: only zero padding (as PyTorch), got " + options.padMode());
        if (weight.dim() != 4) throw new IllegalArgumentException("convTranspose2d: weight must be (Cin, Cout/groups, kh, kw), got " + Shape.str(weight.shape()));
        int[] op = ConvOptions.perDim("convTranspose2d", "output padding", outputPadding.length == 0 ? new int[] {0} : outputPadding, 2);
        return Convolutions.convTranspose2d(x, weight, bias, Convolutions.window("convTranspose2d", weight.size(2), weight.size(3), options), op, options.groups());
    }

    /** Max over k x k windows. x: (N, C, H, W) -> (N, C, OH, OW). */
    public static Tensor maxPool2d(Tensor x, int k, int stride) { return maxPool2d(x, k, stride, 0, 1); }

    /**
     * Max over k x k windows as torch.nn.functional.max_pool2d: padding counts as -inf (at most k/2), dilation
     * spaces the window. Backward gives each window's gradient to its first maximum, as PyTorch.
     */
    public static Tensor maxPool2d(Tensor x, int k, int stride, int padding, int dilation) {
        return Convolutions.maxPool2d(x, Window2d.of(k, k, stride, stride, padding, padding, dilation, dilation));
    }

    /** Mean over k x k windows. x: (N, C, H, W) -> (N, C, OH, OW). */
    public static Tensor avgPool2d(Tensor x, int k, int stride) { return avgPool2d(x, k, stride, 0); }

    /** Mean over k x k windows with zero padding counted in the mean (PyTorch's count_include_pad=True). */
    public static Tensor avgPool2d(Tensor x, int k, int stride, int padding) {
        return Convolutions.avgPool2d(x, Window2d.of(k, k, stride, stride, padding, padding, 1, 1));
    }

    /**
     * Causal scaled dot-product attention. q, k, v: (B, H, T, D) -> (B, H, T, D); position t attends to
     * positions &lt;= t. dropoutP applies to the attention weights when a generator is given. Under
     * {@link Autocast} the two GEMMs run in the scope's dtype and the softmax in float32 (the ops apply the
     * policy), and the result has the scope's dtype, as torch's scaled_dot_product_attention.
     */
    public static Tensor causalAttention(Tensor q, Tensor k, Tensor v, double dropoutP, Generator generator) {
        return causalAttention(q, k, v, null, dropoutP, generator);
    }

    /**
     * Causal attention that also obeys mask: bool, broadcastable to (B, H, T, T), true where query t may
     * attend key s (a padding mask of shape (B, T) becomes (B, 1, 1, T)); null means no extra mask. A query
     * that may attend nothing gets NaN weights, as PyTorch's math path.
     */
    public static Tensor causalAttention(Tensor q, Tensor k, Tensor v, Tensor mask, double dropoutP, Generator generator) {
        if (mask != null && mask.dtype() != DType.BOOL)
            throw new IllegalArgumentException("causalAttention: mask must be bool (true = may attend), got " + mask.dtype());
        boolean drop = dropoutP > 0 && generator != null;
        List<Tensor> in = new java.util.ArrayList<>(List.of(q, k, v));
        if (mask != null) in.add(mask);
        if (drop) {
            if (dropoutP >= 1) throw new IllegalArgumentException("causalAttention: dropoutP must be in [0, 1), got " + dropoutP);
            int[] scores = q.shape();
            scores[scores.length - 1] = k.size(-2);
            // the multiplier dropout() would apply to the weights: 0, or 1/(1-p) where kept (same random draws);
            // off the CPU the fused dropout of ones makes it in one kernel instead of rand, ge, cast and mul
            Tensor mult = q.device().kind() != Device.Kind.CPU
                    ? DropoutOp.drawn(dropoutP, generator).apply(Tensor.ones(q.dtype(), q.device(), scores))
                    : Tensor.rand(generator, DType.FLOAT32, q.device(), scores).ge(dropoutP).to(q.dtype()).mul(1 / (1 - dropoutP));
            in.add(mult);
        }
        return new AttentionOp(1 / Math.sqrt(q.size(-1)), true, mask != null, drop).apply(in.toArray(new Tensor[0]));
    }
}
