package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/** What max and average pooling share: a k x k window moved by stride, no padding, and no parameters. */
abstract class Pool2d extends Module {
    final int kernel, stride;

    Pool2d(int kernel, int stride) {
        if (kernel <= 0 || stride <= 0)
            throw new IllegalArgumentException(getClass().getSimpleName() + ": kernel " + kernel + " and stride " + stride + " must be positive");
        this.kernel = kernel;
        this.stride = stride;
    }

    @Override protected abstract Tensor compute(Tensor x);

    @Override protected String extraRepr() { return "kernel=" + kernel + ", stride=" + stride; }
}
