package dev.fluxion.nn;

import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * Batch normalization over (N, C, H, W) inputs, as torch.nn.BatchNorm2d: y = (x - mean) / sqrt(var + eps)
 * * weight + bias per channel. Training (or trackRunningStats false): the batch's mean and biased variance
 * over N, H, W, and running_mean / running_var (unbiased) updated with momentum (null: cumulative average),
 * num_batches_tracked counted. Eval with running statistics: those instead. State dict keys as PyTorch's:
 * weight, bias, running_mean, running_var, num_batches_tracked.
 *
 * <pre>{@code
 * var bn = new BatchNorm2d(16, 1e-5, null, true, true, init);   // cumulative running average
 * }</pre>
 */
public final class BatchNorm2d extends BatchNorm {
    /** PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics. */
    public BatchNorm2d(int numFeatures, Init init) { this(numFeatures, 1e-5, 0.1, true, true, init); }

    /** momentum null means a cumulative moving average; trackRunningStats false means batch statistics always. */
    public BatchNorm2d(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats, Init init) {
        super(numFeatures, eps, momentum, affine, trackRunningStats, init);
    }

    @Override void checkInput(Tensor x) {
        if (x.dim() != 4) throw new IllegalArgumentException("BatchNorm2d: expects (N, C, H, W), got " + Shape.str(x.shape()));
    }
}
