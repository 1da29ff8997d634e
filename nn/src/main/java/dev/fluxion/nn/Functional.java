package dev.fluxion.nn;

import dev.fluxion.tensor.AttentionOp;
import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

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
        Tensor y = x.matmul(weight.t());
        return bias == null ? y : y.add(bias);
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

    /** Zeroes each element with probability p and scales the rest by 1/(1-p); identity when p == 0. */
    public static Tensor dropout(Tensor x, double p, Generator generator) {
        if (p < 0 || p >= 1) throw new IllegalArgumentException("dropout: p must be in [0, 1), got " + p);
        if (p == 0) return x;
        Tensor keep = Tensor.rand(generator, DType.FLOAT32, x.device(), x.shape()).ge(p);   // drawn on x's device
        return Tensor.where(keep, x.mul(1 / (1 - p)), Tensor.zerosLike(x));
    }

    /**
     * Patches of x for a sliding window (im2col). x: (N, C, H, W) -> (N, C, OH*OW, kh*kw), zero-padded by
     * padding on each side. Written with indexSelect, so autodiff gives its gradient (col2im) for free.
     */
    public static Tensor unfold(Tensor x, int kh, int kw, int stride, int padding) {
        if (x.dim() != 4) throw new IllegalArgumentException("unfold: expects (N, C, H, W), got " + Shape.str(x.shape()));
        if (kh <= 0 || kw <= 0 || stride <= 0 || padding < 0)
            throw new IllegalArgumentException("unfold: kernel " + kh + "x" + kw + ", stride " + stride + ", padding " + padding + " must be positive (padding >= 0)");
        int n = x.size(0), c = x.size(1);
        Tensor xp = padding == 0 ? x : pad2d(x, padding);
        int h = xp.size(2), w = xp.size(3);
        int oh = (h - kh) / stride + 1, ow = (w - kw) / stride + 1;
        if (h < kh || w < kw)
            throw new IllegalArgumentException("unfold: kernel " + kh + "x" + kw + " is larger than the padded input " + h + "x" + w);
        long[] idx = new long[oh * ow * kh * kw];
        int k = 0;
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
                for (int a = 0; a < kh; a++)
                    for (int b = 0; b < kw; b++) idx[k++] = (long) (i * stride + a) * w + (j * stride + b);
        return xp.reshape(n, c, h * w).indexSelect(2, Tensor.of(idx, idx.length).to(x.device())).reshape(n, c, oh * ow, kh * kw);
    }

    private static Tensor pad2d(Tensor x, int p) {
        int n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
        Tensor side = Tensor.zeros(x.dtype(), x.device(), n, c, h, p);
        Tensor wide = Tensor.cat(List.of(side, x, side), 3);
        Tensor top = Tensor.zeros(x.dtype(), x.device(), n, c, p, w + 2 * p);
        return Tensor.cat(List.of(top, wide, top), 2);
    }

    private static int outSize(int in, int k, int stride, int padding) { return (in + 2 * padding - k) / stride + 1; }

    /**
     * 2-D convolution. x: (N, C, H, W), weight: (O, C, kh, kw), bias: (O) or null -> (N, O, OH, OW). Under
     * {@link Autocast} it runs (im2col included) in the scope's dtype and returns it.
     */
    public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding) {
        if (x.dim() != 4 || weight.dim() != 4 || x.size(1) != weight.size(1))
            throw new IllegalArgumentException("conv2d: input " + Shape.str(x.shape()) + " and weight " + Shape.str(weight.shape())
                    + " must be (N, C, H, W) and (O, C, kh, kw) with equal C");
        x = Autocast.cast(Autocast.Policy.LOWER, x);   // before im2col, which then moves 16-bit patches
        weight = Autocast.cast(Autocast.Policy.LOWER, weight);
        int n = x.size(0), c = x.size(1), o = weight.size(0), kh = weight.size(2), kw = weight.size(3);
        int oh = outSize(x.size(2), kh, stride, padding), ow = outSize(x.size(3), kw, stride, padding);
        Tensor cols = unfold(x, kh, kw, stride, padding)          // (N, C, L, kh*kw)
                .permute(0, 2, 1, 3).reshape(n * oh * ow, c * kh * kw);
        Tensor y = linear(cols, weight.reshape(o, c * kh * kw), bias); // (N*L, O)
        return y.reshape(n, oh, ow, o).permute(0, 3, 1, 2);
    }

    /** Max over k x k windows. x: (N, C, H, W) -> (N, C, OH, OW). */
    public static Tensor maxPool2d(Tensor x, int k, int stride) {
        int oh = outSize(x.size(2), k, stride, 0), ow = outSize(x.size(3), k, stride, 0);
        return unfold(x, k, k, stride, 0).max(-1, false).reshape(x.size(0), x.size(1), oh, ow);
    }

    /** Mean over k x k windows. x: (N, C, H, W) -> (N, C, OH, OW). */
    public static Tensor avgPool2d(Tensor x, int k, int stride) {
        int oh = outSize(x.size(2), k, stride, 0), ow = outSize(x.size(3), k, stride, 0);
        return unfold(x, k, k, stride, 0).mean(-1, false).reshape(x.size(0), x.size(1), oh, ow);
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
            // the multiplier dropout() would apply to the weights: 0, or 1/(1-p) where kept (same random draws)
            Tensor keep = Tensor.rand(generator, DType.FLOAT32, q.device(), scores).ge(dropoutP);
            in.add(keep.to(q.dtype()).mul(1 / (1 - dropoutP)));
        }
        return new AttentionOp(1 / Math.sqrt(q.size(-1)), true, mask != null, drop).apply(in.toArray(new Tensor[0]));
    }
}
