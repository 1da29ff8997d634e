package dev.fluxion.optim;

import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.SgdUpdate;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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

    /** The single-tensor reference, by tensor ops ({@link SgdUpdate#compose}). */
    @Override protected State update(Tensor param, Tensor grad, State s, Config c) {
        SgdUpdate.Param p = param(param, grad, s, c);
        SgdUpdate u = update(c, List.of(p));
        u.compose(u.tensors());
        return new State(p.momentumBuffer());
    }

    /**
     * The whole group through the backend's fused kernel where it has one (contiguous float32 on the CPU, equal
     * bits), the reference elsewhere: one multi-tensor {@link SgdUpdate} per device.
     */
    @Override protected List<State> stepGroup(GroupStep<Config, State> group) {
        int n = group.size();
        SgdUpdate.Param[] ps = new SgdUpdate.Param[n];
        Map<Device, List<SgdUpdate.Param>> byDevice = new LinkedHashMap<>();
        for (int k = 0; k < n; k++) {
            Tensor p = group.params().get(k);
            State s = group.states().get(k);
            ps[k] = param(p, group.grads().get(k), s != null ? s : init(p, group.config()), group.config());
            byDevice.computeIfAbsent(p.device(), d -> new ArrayList<>()).add(ps[k]);
        }
        for (List<SgdUpdate.Param> batch : byDevice.values()) {
            SgdUpdate u = update(group.config(), batch);
            u.apply(u.tensors());
        }
        List<State> next = new ArrayList<>(n);
        for (SgdUpdate.Param p : ps) next.add(new State(p.momentumBuffer()));
        return next;
    }

    private static SgdUpdate update(Config c, List<SgdUpdate.Param> params) {
        return new SgdUpdate(c.lr(), c.momentum(), c.dampening(), c.weightDecay(), c.nesterov(), params);
    }

    /**
     * One parameter of an update: with momentum, its buffer (written in place), or a new one for its first
     * step, which the update fills with d as torch's {@code torch.clone(d)}; without momentum, no buffer (a
     * buffer left from a config with momentum is dropped, as the op path did).
     */
    private static SgdUpdate.Param param(Tensor param, Tensor grad, State s, Config c) {
        if (c.momentum() == 0) return new SgdUpdate.Param(param, grad, null, false);
        boolean first = s.momentumBuffer() == null;
        Tensor buf = first ? Tensor.empty(param.dtype(), param.device(), param.shape()) : s.momentumBuffer();
        return new SgdUpdate.Param(param, grad, buf, first);
    }
}
