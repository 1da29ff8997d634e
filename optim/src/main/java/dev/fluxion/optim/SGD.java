package dev.fluxion.optim;

import dev.fluxion.tensor.Tensor;

import java.util.List;

/**
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay, as
 * torch.optim.SGD (its single-tensor path, step for step):
 * <pre>
 *   d = grad + weight_decay * param
 *   buf = d                                       (first step)
 *   buf = momentum * buf + (1 - dampening) * d    (later steps)
 *   d = nesterov ? d + momentum * buf : buf       (when momentum != 0)
 *   param -= lr * d
 * </pre>
 *
 * <pre>{@code
 * var opt = new SGD(params, SGD.Config.DEFAULT.withLr(0.1).withMomentum(0.9).withNesterov(true));
 * }</pre>
 */
public final class SGD extends Optimizer<SGD.Config, SGD.State> {

    /**
     * Settings of a group. DEFAULT is PyTorch's (lr 1e-3 as in PyTorch 2.x, which made lr optional; the rest zero, no Nesterov).
     *
     * @param nesterov needs momentum > 0 and dampening = 0
     */
    public record Config(double lr, double momentum, double dampening, double weightDecay, boolean nesterov) implements OptimizerConfig<Config> {
        /** PyTorch's defaults. */
        public static final Config DEFAULT = new Config(1e-3, 0, 0, 0, false);

        /** Checks every setting; an error names the setting and its value. */
        public Config {
            Checks.nonNegative("SGD.Config", "lr", lr);
            Checks.nonNegative("SGD.Config", "momentum", momentum);
            Checks.finite("SGD.Config", "momentum", momentum);
            Checks.finite("SGD.Config", "dampening", dampening);
            Checks.nonNegative("SGD.Config", "weightDecay", weightDecay);
            if (nesterov && (momentum <= 0 || dampening != 0))
                throw new IllegalArgumentException("SGD.Config: nesterov requires momentum > 0 and dampening = 0, got momentum "
                        + momentum + " and dampening " + dampening);
        }

        @Override public Config withLr(double lr) { return new Config(lr, momentum, dampening, weightDecay, nesterov); }
        /** This config with momentum replaced. */
        public Config withMomentum(double momentum) { return new Config(lr, momentum, dampening, weightDecay, nesterov); }
        /** This config with dampening replaced. */
        public Config withDampening(double dampening) { return new Config(lr, momentum, dampening, weightDecay, nesterov); }
        /** This config with weightDecay replaced. */
        public Config withWeightDecay(double weightDecay) { return new Config(lr, momentum, dampening, weightDecay, nesterov); }
        /** This config with nesterov replaced. */
        public Config withNesterov(boolean nesterov) { return new Config(lr, momentum, dampening, weightDecay, nesterov); }
    }

    /** @param momentumBuffer same shape as the parameter; null until the first step with momentum */
    public record State(Tensor momentumBuffer) {}

    /** SGD over params, all with one config. */
    public SGD(Iterable<? extends Tensor> params, Config config) { this(List.of(ParamGroup.of(params, config))); }

    /** SGD over parameter groups, each with its own config. */
    public SGD(List<ParamGroup<Config>> groups) { super(groups, Config.class, State.class); }

    @Override protected State init(Tensor param, Config c) { return new State(null); }

    @Override protected State update(Tensor param, Tensor grad, State s, Config c) {
        Tensor d = c.weightDecay() != 0 ? grad.add(param.mul(c.weightDecay())) : grad;
        Tensor buf = null;
        if (c.momentum() != 0) {
            if (s.momentumBuffer() == null) buf = d.copy();
            else buf = s.momentumBuffer().mul(c.momentum()).add(c.dampening() != 0 ? d.mul(1 - c.dampening()) : d);
            d = c.nesterov() ? d.add(buf.mul(c.momentum())) : buf;
        }
        param.copy_(param.add(d.mul(-c.lr())));
        return new State(buf);
    }
}
