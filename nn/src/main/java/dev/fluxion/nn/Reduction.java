package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/**
 * How a loss combines its per-element values (PyTorch's {@code reduction=} argument): NONE keeps them,
 * SUM adds them, MEAN averages them (the default of every loss). BATCHMEAN (the sum divided by the size of
 * dim 0) is accepted only by {@link Losses#klDiv}, as in PyTorch, where it gives the true KL divergence.
 *
 * <pre>{@code
 * Tensor perSample = Losses.mse(prediction, target, Reduction.NONE);   // prediction's shape
 * }</pre>
 */
public enum Reduction {
    NONE, SUM, MEAN, BATCHMEAN;

    /**
     * Reduces per-element losses: NONE returns them, SUM their sum (0 when empty), MEAN their mean (NaN when
     * empty, as PyTorch), BATCHMEAN their sum over size(0) (a 0-dim loss counts as one sample).
     */
    public Tensor apply(Tensor perElement) {
        return switch (this) {
            case NONE -> perElement;
            case SUM -> perElement.sum();
            case MEAN -> perElement.mean();
            case BATCHMEAN -> perElement.sum().div(perElement.dim() == 0 ? 1 : perElement.size(0));
        };
    }

    /** Refuses BATCHMEAN for a loss other than klDiv, naming the loss. */
    Reduction checkNotBatchMean(String op) {
        if (this == BATCHMEAN)
            throw new IllegalArgumentException(op + ": reduction BATCHMEAN is only defined for klDiv; use MEAN, SUM or NONE");
        return this;
    }
}
