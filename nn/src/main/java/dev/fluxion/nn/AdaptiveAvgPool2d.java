package dev.fluxion.nn;

import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * Average pooling to a fixed output size, as torch.nn.AdaptiveAvgPool2d: x (N, C, H, W) -> (N, C, OH, OW),
 * output row i averaging input rows floor(i H / OH) to ceil((i + 1) H / OH) (end excluded), columns alike.
 * The window is a product of a row range and a column range, so the mean is A_h x A_w^T with two small
 * averaging matrices (two GEMMs, gradient included).
 *
 * <pre>{@code
 * var gap = new AdaptiveAvgPool2d(1, 1);    // global average pooling
 * }</pre>
 */
public final class AdaptiveAvgPool2d extends Module {
    private final int outH, outW;

    /** A square output size. */
    public AdaptiveAvgPool2d(int size) { this(size, size); }

    /** Output size outH x outW. */
    public AdaptiveAvgPool2d(int outH, int outW) {
        if (outH <= 0 || outW <= 0) throw new IllegalArgumentException("AdaptiveAvgPool2d: output size " + outH + "x" + outW + " must be positive");
        this.outH = outH;
        this.outW = outW;
    }

    /** (out, in): row i holds 1/len over [floor(i in / out), ceil((i+1) in / out)). */
    static Tensor averaging(int out, int in, Tensor like) {
        float[] a = new float[out * in];
        for (int i = 0; i < out; i++) {
            int start = (int) Math.floorDiv((long) i * in, out), end = (int) -Math.floorDiv(-(long) (i + 1) * in, out);
            for (int j = start; j < end; j++) a[i * in + j] = 1f / (end - start);
        }
        return Tensor.of(a, out, in).to(like.dtype()).to(like.device());
    }

    @Override protected Tensor compute(Tensor x) {
        if (x.dim() != 4) throw new IllegalArgumentException("AdaptiveAvgPool2d: expects (N, C, H, W), got " + Shape.str(x.shape()));
        int h = x.size(2), w = x.size(3);
        if (h == outH && w == outW) return x;
        if (outH == 1 && outW == 1) return x.mean(new int[] {2, 3}, true);
        Tensor cols = x.matmul(averaging(outW, w, x).t());            // (N, C, H, OW)
        return averaging(outH, h, x).matmul(cols);                     // (N, C, OH, OW)
    }

    @Override protected String extraRepr() { return "output_size=" + outH + "x" + outW; }
}
