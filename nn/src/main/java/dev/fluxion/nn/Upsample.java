package dev.fluxion.nn;

import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * Nearest-neighbour upsampling, as torch.nn.Upsample(mode='nearest') of (N, C, L) or (N, C, H, W) inputs:
 * output index o reads input index min(floor(o * scale), in - 1), scale = 1 / scaleFactor when a scale
 * factor is given, in / out when a size is. The gradient sums back over the copies.
 *
 * <pre>{@code
 * var up = Upsample.scale(2);           // (N, C, H, W) -> (N, C, 2H, 2W)
 * var to = Upsample.size(7, 9);         // any input -> (N, C, 7, 9)
 * }</pre>
 */
public final class Upsample extends Module {
    private final int[] size;          // output spatial size, or null
    private final double[] factor;     // scale factor per spatial dim (1 value = all), or null

    private Upsample(int[] size, double[] factor) {
        this.size = size;
        this.factor = factor;
    }

    /** Scales every spatial dim by the factor(s) (one value, or one per spatial dim); output size floor(in * factor). */
    public static Upsample scale(double... scaleFactor) {
        if (scaleFactor.length == 0 || java.util.Arrays.stream(scaleFactor).anyMatch(f -> !(f > 0)))
            throw new IllegalArgumentException("Upsample: scale factors " + java.util.Arrays.toString(scaleFactor) + " must be positive");
        return new Upsample(null, scaleFactor.clone());
    }

    /** Resizes the spatial dims to size (one value per spatial dim, or one for all). */
    public static Upsample size(int... size) {
        if (size.length == 0 || java.util.Arrays.stream(size).anyMatch(s -> s <= 0))
            throw new IllegalArgumentException("Upsample: size " + java.util.Arrays.toString(size) + " must be positive");
        return new Upsample(size.clone(), null);
    }

    @Override protected Tensor compute(Tensor x) {
        if (x.dim() != 3 && x.dim() != 4) throw new IllegalArgumentException("Upsample: expects (N, C, L) or (N, C, H, W), got " + Shape.str(x.shape()));
        int spatial = x.dim() - 2;
        Tensor y = x;
        for (int d = 0; d < spatial; d++) {
            int in = x.size(2 + d);
            int out;
            double scale;
            if (size != null) {
                if (size.length != 1 && size.length != spatial) throw new IllegalArgumentException("Upsample: size " + java.util.Arrays.toString(size) + " for input " + Shape.str(x.shape()));
                out = size[size.length == 1 ? 0 : d];
                scale = (double) in / out;
            } else {
                if (factor.length != 1 && factor.length != spatial) throw new IllegalArgumentException("Upsample: scale factors " + java.util.Arrays.toString(factor) + " for input " + Shape.str(x.shape()));
                double f = factor[factor.length == 1 ? 0 : d];
                out = (int) Math.floor(in * f);
                scale = 1 / f;
            }
            if (out <= 0) throw new IllegalArgumentException("Upsample: output size " + out + " for input " + Shape.str(x.shape()));
            if (out == in) continue;
            long[] idx = new long[out];
            for (int o = 0; o < out; o++) idx[o] = Math.min((long) Math.floor((float) (o * (float) scale)), in - 1);
            y = y.indexSelect(2 + d, Tensor.of(idx, out).to(x.device()));
        }
        return y;
    }

    @Override protected String extraRepr() {
        return (size != null ? "size=" + java.util.Arrays.toString(size) : "scale_factor=" + java.util.Arrays.toString(factor)) + ", mode=nearest";
    }
}
