package dev.fluxion.tensor;

/**
 * The hyperparameters of Adam and AdamW: the one record that the optimizers of module fluxion-optim
 * ({@code Adam.Config} and {@code AdamW.Config} convert to it), the op-by-op reference path and every fused
 * kernel ({@link AdamUpdate}: the CPU kernel, the CUDA multi-tensor kernel) read. A new hyperparameter is
 * a new component here and a change to the kernels; the scalars derived from it (bias corrections, step
 * size, decay factors) are computed only by the methods below.
 *
 * <pre>{@code
 * var h = AdamHyper.ADAMW.withLr(3e-4);
 * double stepSize = h.stepSize(t);     // lr / (1 - beta1^t), t the 1-based number of the update
 * }</pre>
 *
 * @param lr          learning rate
 * @param beta1       decay of the first moment estimate m
 * @param beta2       decay of the second moment estimate v
 * @param eps         added to the denominator
 * @param weightDecay L2 penalty added to the gradient (Adam) or decoupled decay of the weights (AdamW)
 * @param decoupled   true for AdamW (param *= 1 - lr * weightDecay), false for Adam (grad += weightDecay * param)
 * @param amsgrad     the denominator uses the largest v so far
 */
public record AdamHyper(double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled, boolean amsgrad) {
    /** torch.optim.Adam's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0. */
    public static final AdamHyper ADAM = new AdamHyper(1e-3, 0.9, 0.999, 1e-8, 0, false, false);
    /** torch.optim.AdamW's defaults: as Adam's, with decoupled weight decay 0.01. */
    public static final AdamHyper ADAMW = new AdamHyper(1e-3, 0.9, 0.999, 1e-8, 0.01, true, false);

    public AdamHyper {
        check("AdamHyper", lr, beta1, beta2, eps, weightDecay);
    }

    /**
     * The checks of the compact constructor, for records that hold the same settings (the optimizer configs):
     * lr, eps and weightDecay >= 0, betas in [0, 1); NaN fails. Messages start with owner.
     */
    public static void check(String owner, double lr, double beta1, double beta2, double eps, double weightDecay) {
        nonNegative(owner, "lr", lr);
        unitInterval(owner, "beta1", beta1);
        unitInterval(owner, "beta2", beta2);
        nonNegative(owner, "eps", eps);
        nonNegative(owner, "weightDecay", weightDecay);
    }

    public AdamHyper withLr(double lr) { return new AdamHyper(lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad); }
    public AdamHyper withWeightDecay(double weightDecay) { return new AdamHyper(lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad); }
    public AdamHyper withAmsgrad(boolean amsgrad) { return new AdamHyper(lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad); }

    // ---------------------------------------------------------------- derived scalars, in double (rounded where they meet a tensor, as in PyTorch)

    /** lr / (1 - beta1^t) for update number t (1-based): the first bias correction folded into the step. */
    public double stepSize(long t) { return lr / (1 - Math.pow(beta1, checkStep(t))); }

    /** sqrt(1 - beta2^t) for update number t (1-based): the denominator is sqrt(v) / this + eps. */
    public double biasCorrection2Sqrt(long t) { return Math.sqrt(1 - Math.pow(beta2, checkStep(t))); }

    /** The L2 coefficient added to the gradient: weightDecay for Adam, 0 for AdamW. */
    public double l2WeightDecay() { return decoupled ? 0 : weightDecay; }

    /** The factor on the parameter before the step: 1 - lr * weightDecay for AdamW, 1 (no-op) for Adam or no decay. */
    public double decoupledDecay() { return decoupled && weightDecay != 0 ? 1 - lr * weightDecay : 1; }

    private static long checkStep(long t) {
        if (t < 1) throw new IllegalArgumentException("AdamHyper: the update number t counts from 1, got " + t);
        return t;
    }

    private static void nonNegative(String owner, String name, double value) {
        if (!(value >= 0)) throw new IllegalArgumentException(owner + ": " + name + " must be >= 0, got " + value);
        if (value == Double.POSITIVE_INFINITY) throw new IllegalArgumentException(owner + ": " + name + " must be finite, got " + value);
    }

    private static void unitInterval(String owner, String name, double value) {
        if (!(value >= 0 && value < 1)) throw new IllegalArgumentException(owner + ": " + name + " must be in [0, 1), got " + value);
    }
}
