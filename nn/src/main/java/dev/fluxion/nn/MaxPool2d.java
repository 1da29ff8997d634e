package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/** Max over k x k windows (no padding).  x: (N, C, H, W) -> (N, C, (H-k)/s+1, (W-k)/s+1). */
public final class MaxPool2d extends Module {
    private final int kernel, stride;

    public MaxPool2d(int kernel, int stride) {
        if (kernel <= 0 || stride <= 0) throw new IllegalArgumentException("MaxPool2d: kernel " + kernel + " and stride " + stride + " must be positive");
        this.kernel = kernel;
        this.stride = stride;
    }

    @Override public Tensor forward(Tensor x) { return Functional.maxPool2d(x, kernel, stride); }

    @Override protected String extraRepr() { return "kernel=" + kernel + ", stride=" + stride; }
}
