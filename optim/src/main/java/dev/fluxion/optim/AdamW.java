package dev.fluxion.optim;

import dev.fluxion.tensor.Tensor;

import java.util.List;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter), as torch.optim.AdamW (single-tensor path):
 * the parameter is first scaled by {@code 1 - lr * weight_decay}, then takes Adam's step computed from the
 * raw gradient (see {@link Adam} for the moment updates and bias corrections). Default weight decay 0.01.
 *
 * <pre>{@code
 * var opt = new AdamW(model.parameters(), AdamW.Config.DEFAULT.withLr(3e-4).withWeightDecay(0.1));
 * }</pre>
 */
public final class AdamW extends Optimizer<AdamW.Config, Adam.State> {

    /** Settings of a group. DEFAULT is PyTorch's: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01, no amsgrad. */
    public record Config(double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad)
            implements OptimizerConfig<Config> {
        public static final Config DEFAULT = new Config(1e-3, 0.9, 0.999, 1e-8, 0.01, false);

        public Config {
            Adam.checkCommon("AdamW.Config", lr, beta1, beta2, eps, weightDecay);
        }

        @Override public Config withLr(double lr) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
        public Config withBetas(double beta1, double beta2) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
        public Config withEps(double eps) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
        public Config withWeightDecay(double weightDecay) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
        public Config withAmsgrad(boolean amsgrad) { return new Config(lr, beta1, beta2, eps, weightDecay, amsgrad); }
    }

    public AdamW(Iterable<? extends Tensor> params, Config config) { this(List.of(ParamGroup.of(params, config))); }

    public AdamW(List<ParamGroup<Config>> groups) { super(groups, Config.class, Adam.State.class); }

    @Override protected Adam.State init(Tensor param, Config c) { return Adam.initState(param, c.amsgrad()); }

    @Override protected void checkLoaded(Adam.State s, Config c, String where) { Adam.checkLoaded(s, c.amsgrad(), where); }

    @Override protected Adam.State update(Tensor param, Tensor grad, Adam.State s, Config c) {
        Adam.State fused = Adam.fusedStep(param, grad, s, c.lr(), c.beta1(), c.beta2(), c.eps(), 0,
                c.weightDecay() != 0 ? 1 - c.lr() * c.weightDecay() : 1, c.amsgrad());
        if (fused != null) return fused;
        // 1 - lr * wd is rounded to the parameter's dtype once, as PyTorch's param.mul_(1 - lr * weight_decay)
        Tensor decayed = c.weightDecay() != 0 ? param.mul(1 - c.lr() * c.weightDecay()) : param;
        return Adam.step(param, decayed, grad, s, c.lr(), c.beta1(), c.beta2(), c.eps(), c.amsgrad());
    }
}
