package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.Window2d;

/** What max and average pooling share: a k x k window moved by stride, with padding and dilation, and no parameters. */
abstract class Pool2d extends Module {
    final int kernel, stride, padding, dilation;
    final Window2d window;

    Pool2d(int kernel, int stride, int padding, int dilation) {
        if (kernel <= 0 || stride <= 0 || padding < 0 || dilation <= 0 || padding > kernel / 2)
            throw new IllegalArgumentException(getClass().getSimpleName() + ": kernel " + kernel + ", stride " + stride + " and dilation " + dilation
                    + " must be positive, padding " + padding + " in [0, kernel/2]");
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        this.dilation = dilation;
        this.window = Window2d.of(kernel, kernel, stride, stride, padding, padding, dilation, dilation);
    }

    @Override protected abstract Tensor compute(Tensor x);

    @Override protected String extraRepr() {
        return "kernel=" + kernel + ", stride=" + stride + (padding > 0 ? ", padding=" + padding : "") + (dilation > 1 ? ", dilation=" + dilation : "");
    }
}
