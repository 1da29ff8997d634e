package dev.fluxion.nn;

import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * Batch normalization over (N, C) or (N, C, L) inputs, as torch.nn.BatchNorm1d: each of the C features
 * normalized over N (and L); see {@link BatchNorm2d} for the statistics and buffers, which are the same.
 *
 * <pre>{@code
 * var bn = new BatchNorm1d(64, init);            // eps 1e-5, momentum 0.1, affine, running statistics
 * bn.eval();                                      // now uses running_mean and running_var
 * }</pre>
 */
public final class BatchNorm1d extends BatchNorm {
    /** PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics. */
    public BatchNorm1d(int numFeatures, Init init) { this(numFeatures, 1e-5, 0.1, true, true, init); }

    /** momentum null means a cumulative moving average; trackRunningStats false means batch statistics always. */
    public BatchNorm1d(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats, Init init) {
        super(numFeatures, eps, momentum, affine, trackRunningStats, init);
    }

    @Override void checkInput(Tensor x) {
        if (x.dim() != 2 && x.dim() != 3) throw new IllegalArgumentException("BatchNorm1d: expects (N, C) or (N, C, L), got " + Shape.str(x.shape()));
    }
}
