package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/**
 * Transposed 2-D convolution as torch.nn.ConvTranspose2d (the gradient of Conv2d with respect to its input).
 * x: (N, Cin, H, W) -> (N, Cout, OH, OW), OH = (H - 1) stride - 2 padding + dilation (kh - 1) + outputPadding + 1.
 * Parameters weight (Cin, Cout/groups, kh, kw) and bias (Cout), named, shaped and initialized as PyTorch's
 * (kaiming-uniform a = sqrt(5) with PyTorch's fan-in of this weight, Cout/groups kh kw).
 *
 * <pre>{@code
 * var up = new ConvTranspose2d(16, 8, new int[] {4}, ConvOptions.DEFAULT.withStride(2).withPadding(1), new int[] {0}, init);
 * }</pre>
 */
public final class ConvTranspose2d extends Module {
    private final Parameter weight;   // (Cin, Cout/groups, kh, kw)
    private final Parameter bias;     // (Cout) or null
    private final ConvOptions options;
    private final int[] outputPadding;

    /** A transposed convolution with a square kernel and PyTorch's defaults. */
    public ConvTranspose2d(int in, int out, int kernel, Init init) { this(in, out, new int[] {kernel}, ConvOptions.DEFAULT, new int[] {0}, init); }

    /**
     * A transposed convolution with kernel {k} or {kh, kw}, options (stride, padding as sizes, dilation,
     * groups, bias) and outputPadding {p} or {ph, pw} (each smaller than the stride or the dilation).
     */
    public ConvTranspose2d(int in, int out, int[] kernel, ConvOptions options, int[] outputPadding, Init init) {
        int[] k = ConvOptions.perDim("ConvTranspose2d", "kernel", kernel, 2);
        if (in <= 0 || out <= 0 || k[0] <= 0 || k[1] <= 0 || in % options.groups() != 0 || out % options.groups() != 0)
            throw new IllegalArgumentException("ConvTranspose2d: in=" + in + ", out=" + out + ", kernel=" + java.util.Arrays.toString(kernel)
                    + " must be positive, and in and out multiples of groups=" + options.groups());
        if (options.paddingMode() != null)
            throw new IllegalArgumentException("ConvTranspose2d: padding must be sizes, not \"" + options.paddingMode() + "\" (as PyTorch)");
        Convolutions.window("ConvTranspose2d", k[0], k[1], options);
        this.options = options;
        this.outputPadding = ConvOptions.perDim("ConvTranspose2d", "output padding", outputPadding, 2);
        this.weight = register("weight", init.kaimingUniform(Math.sqrt(5), in, out / options.groups(), k[0], k[1]));
        double bound = 1 / Math.sqrt((double) out / options.groups() * k[0] * k[1]);
        this.bias = options.bias() ? register("bias", init.uniform(-bound, bound, out)) : null;
    }

    /** The weight, (Cin, Cout/groups, kh, kw). */
    public Parameter weight() { return weight; }

    /** The bias (Cout), or null. */
    public Parameter bias() { return bias; }

    @Override protected Tensor compute(Tensor x) { return Functional.convTranspose2d(x, weight, bias, options, outputPadding); }

    @Override protected String extraRepr() {
        return weight.size(0) + ", " + weight.size(1) * options.groups() + ", kernel=" + weight.size(2) + "x" + weight.size(3) + ", " + options
                + ", output_padding=" + java.util.Arrays.toString(outputPadding);
    }
}
