package dev.fluxion.optim;

import dev.fluxion.tensor.AdamUpdate;
import dev.fluxion.tensor.Backends;
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
 * The scalars (bias corrections, step size) are computed in double and rounded to the parameter's dtype
 * where they meet a tensor, as in PyTorch. For decoupled weight decay use {@link AdamW}.
 *
 * <pre>{@code
 * var opt = new Adam(params, Adam.Config.DEFAULT.withLr(3e-4).withBetas(0.9, 0.95));
 * }</pre>
 */
public final class Adam extends Optimizer<Adam.Config, Adam.State> {

    /** Settings of a group. DEFAULT is PyTorch's: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, no amsgrad. */
    public record Config(double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad)
            implements OptimizerConfig<Config> {
        public static final Config DEFAULT = new Config(1e-3, 0.9, 0.999, 1e-8, 0, false);

        public Config {
            checkCommon("Adam.Config", lr, beta1, beta2, eps, weightDecay);
        }

        @Override public Config withLr(double lr) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
        public Config withBetas(double beta1, double beta2) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
        public Config withEps(double eps) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
        public Config withWeightDecay(double weightDecay) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
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
        public State {
            if (step < 0) throw new IllegalArgumentException("Adam.State: step must be >= 0, got " + step);
            if (expAvg == null || expAvgSq == null) throw new IllegalArgumentException("Adam.State: exp_avg and exp_avg_sq are required");
        }
    }

    public Adam(Iterable<? extends Tensor> params, Config config) { this(List.of(ParamGroup.of(params, config))); }

    public Adam(List<ParamGroup<Config>> groups) { super(groups, Config.class, State.class); }

    @Override protected State init(Tensor param, Config c) { return initState(param, c.amsgrad()); }

    @Override protected void checkLoaded(State s, Config c, String where) { checkLoaded(s, c.amsgrad(), where); }

    @Override protected State update(Tensor param, Tensor grad, State s, Config c) {
        State fused = fusedStep(param, grad, s, c.lr(), c.beta1(), c.beta2(), c.eps(), c.weightDecay(), 1, c.amsgrad());
        if (fused != null) return fused;
        Tensor g = c.weightDecay() != 0 ? grad.add(param.mul(c.weightDecay())) : grad;
        return step(param, param, g, s, c.lr(), c.beta1(), c.beta2(), c.eps(), c.amsgrad());
    }

    // ---------------------------------------------------------------- shared with AdamW

    static void checkCommon(String owner, double lr, double beta1, double beta2, double eps, double weightDecay) {
        Checks.nonNegative(owner, "lr", lr);
        Checks.inUnitInterval(owner, "beta1", beta1);
        Checks.inUnitInterval(owner, "beta2", beta2);
        Checks.nonNegative(owner, "eps", eps);
        Checks.nonNegative(owner, "weightDecay", weightDecay);
    }

    static State initState(Tensor param, boolean amsgrad) {
        return new State(0, Tensor.zerosLike(param), Tensor.zerosLike(param), amsgrad ? Tensor.zerosLike(param) : null);
    }

    static void checkLoaded(State s, boolean amsgrad, String where) {
        if (amsgrad && s.maxExpAvgSq() == null) throw new IllegalArgumentException(where + ": amsgrad, but max_exp_avg_sq is missing");
    }

    /**
     * The same update by the backend's fused kernel (one pass, state written in place, equal bits), or null
     * when the backend has none for these tensors.
     */
    static State fusedStep(Tensor param, Tensor grad, State s, double lr, double beta1, double beta2, double eps,
                           double l2WeightDecay, double decoupledDecay, boolean amsgrad) {
        if (amsgrad && s.maxExpAvgSq() == null) return null;                 // amsgrad newly switched on: the op path starts it
        long t = s.step() + 1;
        double stepSize = lr / (1 - Math.pow(beta1, t));
        double biasCorrection2Sqrt = Math.sqrt(1 - Math.pow(beta2, t));
        var u = new AdamUpdate(param, grad, s.expAvg(), s.expAvgSq(), amsgrad ? s.maxExpAvgSq() : null, beta1, beta2, eps,
                l2WeightDecay, decoupledDecay, stepSize, biasCorrection2Sqrt);
        if (!Backends.of(param.device()).adamStep(u)) return null;
        return new State(t, s.expAvg(), s.expAvgSq(), amsgrad ? s.maxExpAvgSq() : null);
    }

    /** The moment updates and param.copy_(base + step); base is param, or param already decayed (AdamW). */
    static State step(Tensor param, Tensor base, Tensor g, State s, double lr, double beta1, double beta2, double eps, boolean amsgrad) {
        long t = s.step() + 1;
        Tensor m = s.expAvg().mul(beta1).add(g.mul(1 - beta1));
        Tensor v = s.expAvgSq().mul(beta2).add(g.mul(1 - beta2).mul(g));
        double biasCorrection1 = 1 - Math.pow(beta1, t);
        double biasCorrection2 = 1 - Math.pow(beta2, t);
        double stepSize = lr / biasCorrection1;
        double biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
        Tensor vMax = null;
        if (amsgrad) vMax = s.maxExpAvgSq() != null ? s.maxExpAvgSq().maximum(v) : v.copy();   // null: amsgrad newly switched on
        Tensor denom = (amsgrad ? vMax : v).sqrt().div(biasCorrection2Sqrt).add(eps);
        param.copy_(base.add(m.mul(-stepSize).div(denom)));
        return new State(t, m, v, vMax);
    }
}
