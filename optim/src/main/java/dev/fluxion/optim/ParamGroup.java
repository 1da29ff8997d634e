package dev.fluxion.optim;

import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Parameters that share one set of optimizer settings, as a PyTorch param group.
 *
 * <pre>{@code
 * var cfg = AdamW.Config.DEFAULT.withLr(3e-4);
 * var opt = new AdamW(List.of(new ParamGroup<>(weights, cfg), new ParamGroup<>(biasesAndNorms, cfg.withWeightDecay(0))));
 * }</pre>
 *
 * @param params leaf floating-point tensors, updated in place by {@code step()}
 * @param config the settings of this group
 */
public record ParamGroup<C extends OptimizerConfig<C>>(List<? extends Tensor> params, C config) {
    public ParamGroup {
        Objects.requireNonNull(params, "ParamGroup: params is null");
        Objects.requireNonNull(config, "ParamGroup: config is null");
        for (int i = 0; i < params.size(); i++)
            if (params.get(i) == null) throw new IllegalArgumentException("ParamGroup: parameter " + i + " is null");
        params = List.copyOf(params);
    }

    /** A group of the given parameters (any iterable, e.g. a module's parameters). */
    public static <C extends OptimizerConfig<C>> ParamGroup<C> of(Iterable<? extends Tensor> params, C config) {
        Objects.requireNonNull(params, "ParamGroup: params is null");
        List<Tensor> list = new ArrayList<>();
        for (Tensor p : params) list.add(p);
        return new ParamGroup<>(list, config);
    }
}
