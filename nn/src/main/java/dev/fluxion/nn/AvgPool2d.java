package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/**
 * Mean over k x k windows, as torch.nn.AvgPool2d with count_include_pad=True. x: (N, C, H, W) -> (N, C, OH, OW),
 * OH = (H + 2 padding - k) / stride + 1.
 */
public final class AvgPool2d extends Pool2d {
    /** Average pooling with stride = kernel (PyTorch's default). */
    public AvgPool2d(int kernel) { this(kernel, kernel); }

    /** Average pooling over kernel x kernel windows moved by stride. */
    public AvgPool2d(int kernel, int stride) { this(kernel, stride, 0); }

    /** Average pooling with zero padding (at most kernel/2), counted in the mean. */
    public AvgPool2d(int kernel, int stride, int padding) { super(kernel, stride, padding, 1); }

    @Override protected Tensor compute(Tensor x) { return Convolutions.avgPool2d(x, window); }
}
