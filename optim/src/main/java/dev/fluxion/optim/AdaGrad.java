package dev.fluxion.optim;

import dev.fluxion.tensor.Tensor;

import java.util.List;

/**
 * AdaGrad, as torch.optim.Adagrad (single-tensor path, step for step), t counting from 1:
 * <pre>
 *   g = grad + weight_decay * param
 *   clr = lr / (1 + (t - 1) * lr_decay)
 *   sum = sum + g * g                    (sum starts at initial_accumulator_value)
 *   param = param + (-clr * g) / (sqrt(sum) + eps)
 * </pre>
 *
 * <pre>{@code
 * var opt = new AdaGrad(params, AdaGrad.Config.DEFAULT.withLr(0.1).withLrDecay(0.01));
 * }</pre>
 */
public final class AdaGrad extends Optimizer<AdaGrad.Config, AdaGrad.State> {

    /** Settings of a group. DEFAULT is PyTorch's: lr 0.01, lr_decay 0, weight_decay 0, initial_accumulator_value 0, eps 1e-10. */
    public record Config(double lr, double lrDecay, double weightDecay, double initialAccumulatorValue, double eps)
            implements OptimizerConfig<Config> {
        /** PyTorch's defaults. */
        public static final Config DEFAULT = new Config(0.01, 0, 0, 0, 1e-10);

        /** Checks every setting; an error names the setting and its value. */
        public Config {
            Checks.nonNegative("AdaGrad.Config", "lr", lr);
            Checks.nonNegative("AdaGrad.Config", "lrDecay", lrDecay);
            Checks.nonNegative("AdaGrad.Config", "weightDecay", weightDecay);
            Checks.nonNegative("AdaGrad.Config", "initialAccumulatorValue", initialAccumulatorValue);
            Checks.nonNegative("AdaGrad.Config", "eps", eps);
        }

        @Override public Config withLr(double lr) { return new Config(lr, lrDecay, weightDecay, initialAccumulatorValue, eps); }
        /** This config with lrDecay replaced. */
        public Config withLrDecay(double lrDecay) { return new Config(lr, lrDecay, weightDecay, initialAccumulatorValue, eps); }
        /** This config with weightDecay replaced. */
        public Config withWeightDecay(double weightDecay) { return new Config(lr, lrDecay, weightDecay, initialAccumulatorValue, eps); }
        /** This config with initialAccumulatorValue replaced. */
        public Config withInitialAccumulatorValue(double v) { return new Config(lr, lrDecay, weightDecay, v, eps); }
        /** This config with eps replaced. */
        public Config withEps(double eps) { return new Config(lr, lrDecay, weightDecay, initialAccumulatorValue, eps); }
    }

    /**
     * @param step updates done so far
     * @param sum  the running sum of squared gradients, same shape as the parameter
     */
    public record State(long step, Tensor sum) {
        /** Checks the components; an error names the one that is wrong. */
        public State {
            if (step < 0) throw new IllegalArgumentException("AdaGrad.State: step must be >= 0, got " + step);
            if (sum == null) throw new IllegalArgumentException("AdaGrad.State: sum is missing");
        }
    }

    /** AdaGrad over params, all with one config. */
    public AdaGrad(Iterable<? extends Tensor> params, Config config) { this(List.of(ParamGroup.of(params, config))); }

    /** AdaGrad over parameter groups, each with its own config. */
    public AdaGrad(List<ParamGroup<Config>> groups) { super(groups, Config.class, State.class); }

    @Override protected State init(Tensor param, Config c) {
        return new State(0, Tensor.fullLike(param, c.initialAccumulatorValue()));
    }

    @Override protected State update(Tensor param, Tensor grad, State s, Config c) {
        long step = s.step() + 1;
        Tensor g = c.weightDecay() != 0 ? grad.add(param.mul(c.weightDecay())) : grad;
        double clr = c.lr() / (1 + (step - 1) * c.lrDecay());
        Tensor sum = s.sum().add(g.mul(g));
        Tensor std = sum.sqrt().add(c.eps());
        param.copy_(param.add(g.mul(-clr).div(std)));
        return new State(step, sum);
    }
}
