package dev.fluxion.optim;

import dev.fluxion.tensor.AdamHyper;
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

    /**
     * Settings of a group: {@link AdamHyper} with decoupled weight decay ({@link #hyper()}), kept flat for state
     * dicts. DEFAULT is PyTorch's: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01, no amsgrad.
     */
    public record Config(double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad)
            implements OptimizerConfig<Config> {
        /** PyTorch's defaults. */
        public static final Config DEFAULT = new Config(1e-3, 0.9, 0.999, 1e-8, 0.01, false);

        /** Checks every setting; an error names the setting and its value. */
        public Config {
            AdamHyper.check("AdamW.Config", lr, beta1, beta2, eps, weightDecay);
        }

        /** These settings as the record the kernels read: weight decay decoupled. */
        public AdamHyper hyper() { return new AdamHyper(lr, beta1, beta2, eps, weightDecay, true, amsgrad); }

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

    /** AdamW over params, all with one config. */
    public AdamW(Iterable<? extends Tensor> params, Config config) { this(List.of(ParamGroup.of(params, config))); }

    /** AdamW over parameter groups, each with its own config. */
    public AdamW(List<ParamGroup<Config>> groups) { super(groups, Config.class, Adam.State.class); }

    @Override protected Adam.State init(Tensor param, Config c) { return AdamStep.init(param, c.hyper()); }

    @Override protected void checkLoaded(Adam.State s, Config c, String where) { AdamStep.checkLoaded(s, c.hyper(), where); }

    /** The single-tensor reference, by tensor ops. */
    @Override protected Adam.State update(Tensor param, Tensor grad, Adam.State s, Config c) {
        return AdamStep.reference(c.hyper(), param, grad, s);
    }

    /** The whole group through the backend's fused multi-tensor kernel where it has one, the reference elsewhere. */
    @Override protected List<Adam.State> stepGroup(GroupStep<Config, Adam.State> group) {
        return AdamStep.group(group.config().hyper(), group.params(), group.grads(), group.states());
    }
}
