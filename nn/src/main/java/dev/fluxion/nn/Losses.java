package dev.fluxion.nn;

import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.Tensor;

/** Loss functions (as torch.nn.functional's: mean reduction by default, {@link Reduction} to choose). Under {@link Autocast} they compute and return float32. */
public final class Losses {
    private Losses() {}

    public static final long IGNORE_INDEX = -100;

    /** Cross-entropy of logits (N, C) or (..., C) against class ids (N) or (...) int64. */
    public static Tensor crossEntropy(Tensor logits, Tensor targets) { return crossEntropy(logits, targets, IGNORE_INDEX, 0); }

    /**
     * Cross-entropy with targets equal to ignoreIndex left out of the mean, and label smoothing eps:
     * loss = (1 - eps) * nll + eps * mean over classes of -log p (as torch.nn.functional.cross_entropy).
     */
    public static Tensor crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing) {
        return crossEntropy(logits, targets, CrossEntropy.Options.DEFAULT.withIgnoreIndex(ignoreIndex).withLabelSmoothing(labelSmoothing).withClassDim(-1));
    }

    /**
     * torch.nn.functional.cross_entropy: input (C) or (N, C, d1, ...) with the classes in
     * {@code options.classDim()} (1 by default, as PyTorch), targets () or (N, d1, ...) int64 class ids, or
     * floating class probabilities of the input's shape; class weights, ignoreIndex, label smoothing and
     * reduction as PyTorch (see {@link CrossEntropy}).
     */
    public static Tensor crossEntropy(Tensor input, Tensor targets, CrossEntropy.Options options) {
        return CrossEntropy.crossEntropy(input, targets, options);
    }

    /** Negative log-likelihood of log-probabilities (..., C) against class ids (...) int64, mean over targets not ignored. */
    public static Tensor nll(Tensor logProbs, Tensor targets, long ignoreIndex) {
        return nll(logProbs, targets, CrossEntropy.Options.DEFAULT.withIgnoreIndex(ignoreIndex).withClassDim(-1));
    }

    /** torch.nn.functional.nll_loss: as {@link #crossEntropy(Tensor, Tensor, CrossEntropy.Options)} on log-probabilities (no smoothing). */
    public static Tensor nll(Tensor logProbs, Tensor targets, CrossEntropy.Options options) {
        return CrossEntropy.nll(logProbs, targets, options);
    }

    /** Mean squared error. */
    public static Tensor mse(Tensor prediction, Tensor target) { return mse(prediction, target, Reduction.MEAN); }

    /** Squared error (x - y)^2 of same-shape tensors, reduced. */
    public static Tensor mse(Tensor prediction, Tensor target, Reduction reduction) { return PointwiseLosses.mse(prediction, target, reduction); }

    /** Absolute error |x - y| of same-shape tensors, reduced (torch.nn.functional.l1_loss). */
    public static Tensor l1(Tensor prediction, Tensor target, Reduction reduction) { return PointwiseLosses.l1(prediction, target, reduction); }

    /** torch.nn.functional.smooth_l1_loss: {@code 0.5 d^2 / beta} where {@code |d| < beta}, else |d| - 0.5 beta (beta = 0: l1). */
    public static Tensor smoothL1(Tensor prediction, Tensor target, double beta, Reduction reduction) {
        return PointwiseLosses.smoothL1(prediction, target, beta, reduction);
    }

    /** torch.nn.functional.huber_loss: {@code 0.5 d^2} where {@code |d| <= delta}, else {@code delta (|d| - 0.5 delta)}; {@code delta > 0}. */
    public static Tensor huber(Tensor prediction, Tensor target, double delta, Reduction reduction) {
        return PointwiseLosses.huber(prediction, target, delta, reduction);
    }

    /**
     * torch.nn.functional.kl_div: input holds log-probabilities; target probabilities (or log-probabilities with
     * logTarget). Per element target (log target - input), 0 where target is 0. Reduction BATCHMEAN (the sum over
     * size(0)) is the true KL divergence; MEAN averages over every element, as PyTorch.
     */
    public static Tensor klDiv(Tensor input, Tensor target, Reduction reduction, boolean logTarget) {
        return PointwiseLosses.klDiv(input, target, reduction, logTarget);
    }

    /** Binary cross-entropy on logits, mean over elements (computed stably: max(-x, 0) + log(1 + exp(-|x|)) for softplus(-x)). */
    public static Tensor bceWithLogits(Tensor logits, Tensor targets) { return bceWithLogits(logits, targets, null, null, Reduction.MEAN); }

    /**
     * torch.nn.functional.binary_cross_entropy_with_logits: per element weight ((1 - y) x + (1 + (pw - 1) y)
     * softplus(-x)), reduced. weight and posWeight (the positive class's weight, e.g. one per class in the
     * last dim) broadcast to the logits' shape and may be null. The gradient is sigmoid-based and exact at x = 0.
     */
    public static Tensor bceWithLogits(Tensor logits, Tensor targets, Tensor weight, Tensor posWeight, Reduction reduction) {
        return PointwiseLosses.bceWithLogits(logits, targets, weight, posWeight, reduction);
    }
}
