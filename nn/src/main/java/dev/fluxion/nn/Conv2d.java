package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/**
 * 2-D convolution (cross-correlation, as PyTorch).  x: (N, C, H, W) -> (N, O, OH, OW), OH = (H + 2p - k)/s + 1.
 * Init as torch.nn.Conv2d: kaiming-uniform with a = sqrt(5) for the weight, U(-1/sqrt(fanIn), ..) for the bias.
 */
public final class Conv2d extends Module {
    private final Parameter weight;   // (O, C, k, k)
    private final Parameter bias;     // (O) or null
    private final int stride, padding;

    /** A convolution from in to out channels with a square kernel, stride and zero padding; init as torch.nn.Conv2d. */
    public Conv2d(int in, int out, int kernel, int stride, int padding, boolean bias, Init init) {
        if (in <= 0 || out <= 0 || kernel <= 0 || stride <= 0 || padding < 0)
            throw new IllegalArgumentException("Conv2d: in=" + in + ", out=" + out + ", kernel=" + kernel + ", stride=" + stride
                    + ", padding=" + padding + " must be positive (padding >= 0)");
        this.stride = stride;
        this.padding = padding;
        this.weight = register("weight", init.kaimingUniform(Math.sqrt(5), out, in, kernel, kernel));
        double bound = 1 / Math.sqrt(in * kernel * kernel);
        this.bias = bias ? register("bias", init.uniform(-bound, bound, out)) : null;
    }

    @Override protected Tensor compute(Tensor x) { return Functional.conv2d(x, weight, bias, stride, padding); }

    @Override protected String extraRepr() {
        return weight.size(1) + ", " + weight.size(0) + ", kernel=" + weight.size(2) + ", stride=" + stride + ", padding=" + padding;
    }
}
