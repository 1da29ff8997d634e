package dev.fluxion.optim;

import dev.fluxion.tensor.Tensor;

import java.util.List;

/**
 * RMSProp, as torch.optim.RMSprop (single-tensor path, step for step). The square root is taken before eps
 * is added, as PyTorch does (TensorFlow adds eps inside the root):
 * <pre>
 *   g = grad + weight_decay * param
 *   square_avg = alpha * square_avg + (1 - alpha) * g * g
 *   centered:  grad_avg = alpha * grad_avg + (1 - alpha) * g;  avg = sqrt(square_avg - grad_avg^2) + eps
 *   otherwise: avg = sqrt(square_avg) + eps
 *   momentum > 0: buf = momentum * buf + g / avg;  param -= lr * buf
 *   otherwise:    param += (-lr * g) / avg
 * </pre>
 *
 * <pre>{@code
 * var opt = new RMSProp(params, RMSProp.Config.DEFAULT.withCentered(true).withMomentum(0.9));
 * }</pre>
 */
public final class RMSProp extends Optimizer<RMSProp.Config, RMSProp.State> {

    /** Settings of a group. DEFAULT is PyTorch's: lr 0.01, alpha 0.99, eps 1e-8, weight_decay 0, momentum 0, not centered. */
    public record Config(double lr, double alpha, double eps, double weightDecay, double momentum, boolean centered)
            implements OptimizerConfig<Config> {
        /** PyTorch's defaults. */
        public static final Config DEFAULT = new Config(0.01, 0.99, 1e-8, 0, 0, false);

        /** Checks every setting; an error names the setting and its value. */
        public Config {
            Checks.nonNegative("RMSProp.Config", "lr", lr);
            Checks.inClosedUnitInterval("RMSProp.Config", "alpha", alpha);
            Checks.nonNegative("RMSProp.Config", "eps", eps);
            Checks.nonNegative("RMSProp.Config", "weightDecay", weightDecay);
            Checks.nonNegative("RMSProp.Config", "momentum", momentum);
            Checks.finite("RMSProp.Config", "momentum", momentum);
        }

        @Override public Config withLr(double lr) { return new Config(lr, alpha, eps, weightDecay, momentum, centered); }
        /** This config with alpha replaced. */
        public Config withAlpha(double alpha) { return new Config(lr, alpha, eps, weightDecay, momentum, centered); }
        /** This config with eps replaced. */
        public Config withEps(double eps) { return new Config(lr, alpha, eps, weightDecay, momentum, centered); }
        /** This config with weightDecay replaced. */
        public Config withWeightDecay(double weightDecay) { return new Config(lr, alpha, eps, weightDecay, momentum, centered); }
        /** This config with momentum replaced. */
        public Config withMomentum(double momentum) { return new Config(lr, alpha, eps, weightDecay, momentum, centered); }
        /** This config with centered replaced. */
        public Config withCentered(boolean centered) { return new Config(lr, alpha, eps, weightDecay, momentum, centered); }
    }

    /**
     * Buffers have the parameter's shape.
     *
     * @param step           updates done so far
     * @param squareAvg      running average of g^2
     * @param gradAvg        running average of g; null unless centered
     * @param momentumBuffer null unless momentum > 0
     */
    public record State(long step, Tensor squareAvg, Tensor gradAvg, Tensor momentumBuffer) {
        /** Checks the components; an error names the one that is wrong. */
        public State {
            if (step < 0) throw new IllegalArgumentException("RMSProp.State: step must be >= 0, got " + step);
            if (squareAvg == null) throw new IllegalArgumentException("RMSProp.State: square_avg is missing");
        }
    }

    /** RMSProp over params, all with one config. */
    public RMSProp(Iterable<? extends Tensor> params, Config config) { this(List.of(ParamGroup.of(params, config))); }

    /** RMSProp over parameter groups, each with its own config. */
    public RMSProp(List<ParamGroup<Config>> groups) { super(groups, Config.class, State.class); }

    @Override protected State init(Tensor param, Config c) {
        return new State(0, Tensor.zerosLike(param), c.centered() ? Tensor.zerosLike(param) : null,
                c.momentum() > 0 ? Tensor.zerosLike(param) : null);
    }

    @Override protected void checkLoaded(State s, Config c, String where) {
        if (c.centered() && s.gradAvg() == null) throw new IllegalArgumentException(where + ": centered, but grad_avg is missing");
        if (c.momentum() > 0 && s.momentumBuffer() == null)
            throw new IllegalArgumentException(where + ": momentum " + c.momentum() + ", but momentum_buffer is missing");
    }

    @Override protected State update(Tensor param, Tensor grad, State s, Config c) {
        Tensor g = c.weightDecay() != 0 ? grad.add(param.mul(c.weightDecay())) : grad;
        Tensor squareAvg = s.squareAvg().mul(c.alpha()).add(g.mul(1 - c.alpha()).mul(g));
        Tensor gradAvg = null, avg;
        if (c.centered()) {
            gradAvg = orZeros(s.gradAvg(), param).mul(c.alpha()).add(g.mul(1 - c.alpha()));
            avg = squareAvg.sub(gradAvg.mul(gradAvg)).sqrt();
        } else {
            avg = squareAvg.sqrt();
        }
        avg = avg.add(c.eps());
        Tensor buf = null;
        if (c.momentum() > 0) {
            buf = orZeros(s.momentumBuffer(), param).mul(c.momentum()).add(g.div(avg));
            param.copy_(param.add(buf.mul(-c.lr())));
        } else {
            param.copy_(param.add(g.mul(-c.lr()).div(avg)));
        }
        return new State(s.step() + 1, squareAvg, gradAvg, buf);
    }

    /** A buffer that a changed config newly needs starts at zero. */
    private static Tensor orZeros(Tensor buffer, Tensor param) { return buffer != null ? buffer : Tensor.zerosLike(param); }
}
