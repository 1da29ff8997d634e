package dev.fluxion.optim;

import dev.fluxion.tensor.AdamHyper;
import dev.fluxion.tensor.Tensor;

import java.util.List;

/**
 * Adam with L2 weight decay (added to the gradient) and optional AMSGrad, as torch.optim.Adam
 * (single-tensor path, step for step), t counting from 1:
 * <pre>
 *   g = grad + weight_decay * param
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g * g
 *   v_max = max(v_max, v)                                           (amsgrad; the denominator then uses v_max)
 *   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   param = param + (-(lr / (1 - beta1^t)) * m) / denom
 * </pre>
 * The scalars (bias corrections, step size) are computed in double by {@link AdamHyper} and rounded to the
 * parameter's dtype where they meet a tensor, as in PyTorch. A step hands all parameters of a group to the
 * backend's fused kernel where it has one (contiguous float32 on the CPU), with equal bits. For decoupled
 * weight decay use {@link AdamW}.
 *
 * <pre>{@code
 * var opt = new Adam(params, Adam.Config.DEFAULT.withLr(3e-4).withBetas(0.9, 0.95));
 * }</pre>
 */
public final class Adam extends Optimizer<Adam.Config, Adam.State> {

    /**
     * Settings of a group: the Adam settings of {@link AdamHyper} ({@link #hyper()}), kept flat so that state
     * dicts read {@code group.g.lr}, {@code group.g.amsgrad}, ... as in PyTorch. DEFAULT is PyTorch's: lr 1e-3,
     * betas (0.9, 0.999), eps 1e-8, weight_decay 0, no amsgrad.
     */
    public record Config(double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad)
            implements OptimizerConfig<Config> {
        /** PyTorch's defaults. */
        public static final Config DEFAULT = new Config(1e-3, 0.9, 0.999, 1e-8, 0, false);

        /** Checks every setting; an error names the setting and its value. */
        public Config {
            AdamHyper.check("Adam.Config", lr, beta1, beta2, eps, weightDecay);
        }

        /** These settings as the record the kernels read: weight decay added to the gradient (not decoupled). */
        public AdamHyper hyper() { return new AdamHyper(lr, beta1, beta2, eps, weightDecay, false, amsgrad); }

        @Override public Config withLr(double lr) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
        /** This config with beta1 and beta2 replaced. */
        public Config withBetas(double beta1, double beta2) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
        /** This config with eps replaced. */
        public Config withEps(double eps) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
        /** This config with weightDecay replaced. */
        public Config withWeightDecay(double weightDecay) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
        /** This config with amsgrad replaced. */
        public Config withAmsgrad(boolean amsgrad) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
    }

    /**
     * The state of one parameter (Adam and AdamW). Buffers have the parameter's shape.
     *
     * @param step        updates done so far
     * @param expAvg      first moment estimate m
     * @param expAvgSq    second moment estimate v
     * @param maxExpAvgSq the largest v so far; null unless amsgrad
     */
    public record State(long step, Tensor expAvg, Tensor expAvgSq, Tensor maxExpAvgSq) {
        /** Checks the components; an error names the one that is wrong. */
        public State {
            if (step < 0) throw new IllegalArgumentException("Adam.State: step must be >= 0, got " + step);
            if (expAvg == null || expAvgSq == null) throw new IllegalArgumentException("Adam.State: exp_avg and exp_avg_sq are required");
        }
    }

    /** Adam over params, all with one config. */
    public Adam(Iterable<? extends Tensor> params, Config config) { this(List.of(ParamGroup.of(params, config))); }

    /** Adam over parameter groups, each with its own config. */
    public Adam(List<ParamGroup<Config>> groups) { super(groups, Config.class, State.class); }

    @Override protected State init(Tensor param, Config c) { return AdamStep.init(param, c.hyper()); }

    @Override protected void checkLoaded(State s, Config c, String where) { AdamStep.checkLoaded(s, c.hyper(), where); }

    /** The single-tensor reference, by tensor ops. */
    @Override protected State update(Tensor param, Tensor grad, State s, Config c) { return AdamStep.reference(c.hyper(), param, grad, s); }

    /** The whole group through the backend's fused multi-tensor kernel where it has one, the reference elsewhere. */
    @Override protected List<State> stepGroup(GroupStep<Config, State> group) {
        return AdamStep.group(group.config().hyper(), group.params(), group.grads(), group.states());
    }
}
