package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/** Mean over k x k windows (no padding).  x: (N, C, H, W) -> (N, C, (H-k)/s+1, (W-k)/s+1). */
public final class AvgPool2d extends Pool2d {
    /** Average pooling over kernel x kernel windows moved by stride. */
    public AvgPool2d(int kernel, int stride) { super(kernel, stride); }

    @Override protected Tensor compute(Tensor x) { return Functional.avgPool2d(x, kernel, stride); }
}
