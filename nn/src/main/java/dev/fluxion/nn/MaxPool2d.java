package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/** Max over k x k windows (no padding).  x: (N, C, H, W) -> (N, C, (H-k)/s+1, (W-k)/s+1). */
public final class MaxPool2d extends Pool2d {
    /** Max pooling over kernel x kernel windows moved by stride. */
    public MaxPool2d(int kernel, int stride) { super(kernel, stride); }

    @Override protected Tensor compute(Tensor x) { return Functional.maxPool2d(x, kernel, stride); }
}
