package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/**
 * 2-D convolution (cross-correlation, as torch.nn.Conv2d). x: (N, C, H, W) -> (N, O, OH, OW),
 * OH = (H + padTop + padBottom - dilation (kh - 1) - 1) / stride + 1. Parameters weight (O, C/groups, kh, kw)
 * and bias (O), named as PyTorch's so its state dict loads as is. Init as torch.nn.Conv2d: kaiming-uniform
 * with a = sqrt(5) for the weight, U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for the bias, fanIn = C/groups kh kw.
 * Padding zeros, reflect, replicate or circular (PyTorch's padding_mode, {@link ConvOptions#withPadMode}).
 *
 * <pre>{@code
 * var conv = new Conv2d(3, 16, new int[] {3, 5}, ConvOptions.DEFAULT.withStride(2).withPadding("valid"), init);
 * }</pre>
 */
public final class Conv2d extends Module {
    private final Parameter weight;   // (O, C/groups, kh, kw)
    private final Parameter bias;     // (O) or null
    private final ConvOptions options;

    /** A convolution from in to out channels with a square kernel, stride and zero padding; init as torch.nn.Conv2d. */
    public Conv2d(int in, int out, int kernel, int stride, int padding, boolean bias, Init init) {
        this(in, out, new int[] {kernel}, ConvOptions.DEFAULT.withStride(stride).withPadding(padding).withBias(bias), init);
    }

    /** A convolution with a square kernel and PyTorch's defaults (stride 1, no padding, a bias). */
    public Conv2d(int in, int out, int kernel, Init init) { this(in, out, new int[] {kernel}, ConvOptions.DEFAULT, init); }

    /** A convolution with kernel {k} or {kh, kw} and options (stride, padding, dilation, groups, bias). */
    public Conv2d(int in, int out, int[] kernel, ConvOptions options, Init init) {
        int[] k = ConvOptions.perDim("Conv2d", "kernel", kernel, 2);
        if (in <= 0 || out <= 0 || k[0] <= 0 || k[1] <= 0 || in % options.groups() != 0 || out % options.groups() != 0)
            throw new IllegalArgumentException("Conv2d: in=" + in + ", out=" + out + ", kernel=" + java.util.Arrays.toString(kernel) + " must be positive, and in and out"
                    + " multiples of groups=" + options.groups());
        Convolutions.window("Conv2d", k[0], k[1], options);              // checks stride, padding and dilation now, not at the first forward
        this.options = options;
        this.weight = register("weight", init.kaimingUniform(Math.sqrt(5), out, in / options.groups(), k[0], k[1]));
        double bound = 1 / Math.sqrt((double) in / options.groups() * k[0] * k[1]);
        this.bias = options.bias() ? register("bias", init.uniform(-bound, bound, out)) : null;
    }

    /** The weight, (O, C/groups, kh, kw). */
    public Parameter weight() { return weight; }

    /** The bias (O), or null. */
    public Parameter bias() { return bias; }

    @Override protected Tensor compute(Tensor x) { return Functional.conv2d(x, weight, bias, options); }

    @Override protected String extraRepr() {
        return weight.size(1) * options.groups() + ", " + weight.size(0) + ", kernel=" + weight.size(2) + "x" + weight.size(3) + ", " + options;
    }
}
