package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/**
 * Max over k x k windows, as torch.nn.MaxPool2d. x: (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 padding -
 * dilation (k - 1) - 1) / stride + 1; padding counts as -inf. Backward gives each window's gradient to its
 * first maximum (as PyTorch on ties).
 */
public final class MaxPool2d extends Pool2d {
    /** Max pooling with stride = kernel (PyTorch's default). */
    public MaxPool2d(int kernel) { this(kernel, kernel); }

    /** Max pooling over kernel x kernel windows moved by stride. */
    public MaxPool2d(int kernel, int stride) { this(kernel, stride, 0, 1); }

    /** Max pooling with padding (at most kernel/2) and dilation. */
    public MaxPool2d(int kernel, int stride, int padding, int dilation) { super(kernel, stride, padding, dilation); }

    @Override protected Tensor compute(Tensor x) { return Convolutions.maxPool2d(x, window); }
}
