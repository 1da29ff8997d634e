package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/**
 * 1-D convolution as torch.nn.Conv1d. x: (N, C, L) -> (N, O, OL), OL = (L + 2 padding - dilation (k - 1) - 1)
 * / stride + 1. Parameters weight (O, C/groups, k) and bias (O), named and initialized as PyTorch's.
 * Padding zeros, reflect, replicate or circular (PyTorch's padding_mode, {@link ConvOptions#withPadMode}).
 *
 * <pre>{@code
 * var conv = new Conv1d(16, 32, 5, ConvOptions.DEFAULT.withPadding("same"), init);
 * }</pre>
 */
public final class Conv1d extends Module {
    private final Parameter weight;   // (O, C/groups, k)
    private final Parameter bias;     // (O) or null
    private final ConvOptions options;

    /** A convolution with PyTorch's defaults (stride 1, no padding, a bias). */
    public Conv1d(int in, int out, int kernel, Init init) { this(in, out, kernel, ConvOptions.DEFAULT, init); }

    /** A convolution with options (one value each for stride, padding and dilation; groups; bias). */
    public Conv1d(int in, int out, int kernel, ConvOptions options, Init init) {
        if (in <= 0 || out <= 0 || kernel <= 0 || in % options.groups() != 0 || out % options.groups() != 0)
            throw new IllegalArgumentException("Conv1d: in=" + in + ", out=" + out + ", kernel=" + kernel + " must be positive, and in and out multiples of groups="
                    + options.groups());
        for (int[] v : new int[][] {options.stride(), options.padding(), options.dilation()})
            ConvOptions.perDim("Conv1d", "stride, padding and dilation", v, 1);
        this.options = options;
        this.weight = register("weight", init.kaimingUniform(Math.sqrt(5), out, in / options.groups(), kernel));
        double bound = 1 / Math.sqrt((double) in / options.groups() * kernel);
        this.bias = options.bias() ? register("bias", init.uniform(-bound, bound, out)) : null;
    }

    /** The weight, (O, C/groups, k). */
    public Parameter weight() { return weight; }

    /** The bias (O), or null. */
    public Parameter bias() { return bias; }

    @Override protected Tensor compute(Tensor x) { return Functional.conv1d(x, weight, bias, options); }

    @Override protected String extraRepr() {
        return weight.size(1) * options.groups() + ", " + weight.size(0) + ", kernel=" + weight.size(2) + ", " + options;
    }
}
