package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * What BatchNorm1d and BatchNorm2d share (torch.nn.modules.batchnorm._BatchNorm): normalize each channel
 * (dim 1) over the batch and every other dim. In training (or without running statistics) with the batch's
 * mean and biased variance; running_mean and running_var (unbiased variance) follow
 * running = (1 - momentum) running + momentum batch, or the cumulative average when momentum is null
 * (momentum = 1 / num_batches_tracked); in eval with running statistics they are used instead. Buffers
 * running_mean (C) zeros, running_var (C) ones and num_batches_tracked (int64 scalar) are in the state dict
 * under PyTorch's names; weight (C) ones and bias (C) zeros when affine.
 */
abstract sealed class BatchNorm extends Module permits BatchNorm1d, BatchNorm2d {
    private final Parameter weight;           // (C) or null
    private final Parameter bias;             // (C) or null
    private final Tensor runningMean;         // (C) or null
    private final Tensor runningVar;          // (C) or null
    private final Tensor numBatchesTracked;   // () int64 or null
    private final int numFeatures;
    private final double eps;
    private final Double momentum;

    BatchNorm(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats, Init init) {
        String name = getClass().getSimpleName();
        if (numFeatures <= 0 || !(eps > 0) || (momentum != null && !(momentum >= 0 && momentum <= 1)))
            throw new IllegalArgumentException(name + ": numFeatures " + numFeatures + " must be positive, eps " + eps + " > 0 and momentum " + momentum
                    + " in [0, 1] (or null for a cumulative average)");
        this.numFeatures = numFeatures;
        this.eps = eps;
        this.momentum = momentum;
        this.weight = affine ? register("weight", init.ones(numFeatures)) : null;
        this.bias = affine ? register("bias", init.zeros(numFeatures)) : null;
        this.runningMean = trackRunningStats ? registerBuffer("running_mean", Tensor.zeros(init.dtype(), init.device(), numFeatures)) : null;
        this.runningVar = trackRunningStats ? registerBuffer("running_var", Tensor.ones(init.dtype(), init.device(), numFeatures)) : null;
        this.numBatchesTracked = trackRunningStats ? registerBuffer("num_batches_tracked", Tensor.zeros(DType.INT64, init.device())) : null;
    }

    /** Throws naming the layer when x's rank is not one it takes. */
    abstract void checkInput(Tensor x);

    /** The running mean (C), or null without running statistics. */
    public Tensor runningMean() { return runningMean; }

    /** The running (unbiased) variance (C), or null without running statistics. */
    public Tensor runningVar() { return runningVar; }

    @Override protected Tensor compute(Tensor x) {
        checkInput(x);
        if (x.size(1) != numFeatures)
            throw new IllegalArgumentException(getClass().getSimpleName() + ": input " + Shape.str(x.shape()) + " has " + x.size(1) + " channels, expected " + numFeatures);
        int n = x.size(0), c = numFeatures;
        Tensor x3 = x.reshape(n, c, -1);                                // (N, C, M)
        boolean batchStats = isTraining() || runningMean == null;
        Tensor mean, var;
        if (batchStats) {
            long count = x3.numel() / c;
            if (isTraining() && count <= 1)
                throw new IllegalArgumentException(getClass().getSimpleName() + ": expected more than 1 value per channel when training, got input " + Shape.str(x.shape()));
            mean = x3.mean(new int[] {0, 2}, true);                     // (1, C, 1)
            Tensor centered = x3.sub(mean);
            var = centered.mul(centered).mean(new int[] {0, 2}, true);  // biased, for normalizing
            if (isTraining() && runningMean != null) update(mean.detach().reshape(c), var.detach().reshape(c).mul((double) count / (count - 1)));
        } else {
            mean = runningMean.reshape(1, c, 1);
            var = runningVar.reshape(1, c, 1);
        }
        Tensor y = x3.sub(mean).mul(var.add(eps).rsqrt());
        if (weight != null) y = y.mul(weight.reshape(1, c, 1)).add(bias.reshape(1, c, 1));
        return y.reshape(x.shape());
    }

    private void update(Tensor batchMean, Tensor unbiasedVar) {
        try (var off = Autodiff.noGrad()) {
            long tracked = numBatchesTracked.toLongArray()[0] + 1;
            numBatchesTracked.copy_(Tensor.full(tracked, DType.INT64, numBatchesTracked.device()));
            double m = momentum == null ? 1.0 / tracked : momentum;
            runningMean.copy_(runningMean.mul(1 - m).add(batchMean.mul(m)).to(runningMean.dtype()));
            runningVar.copy_(runningVar.mul(1 - m).add(unbiasedVar.mul(m)).to(runningVar.dtype()));
        }
    }

    @Override protected String extraRepr() {
        return numFeatures + ", eps=" + eps + ", momentum=" + momentum + ", affine=" + (weight != null) + ", track_running_stats=" + (runningMean != null);
    }
}
