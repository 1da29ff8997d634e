package dev.fluxion.tensor;

import java.util.List;
import java.util.Objects;

/**
 * One fused Adam/AdamW update of several parameters (a multi-tensor step), for backends with a fused kernel
 * ({@link Backend#adamStep}). Per element, in the parameter's dtype, exactly as the op-by-op path of module
 * fluxion-optim computes it, with the scalars of {@link AdamHyper} for parameter k's update number t:
 * <pre>
 *   g    = grad + param * l2WeightDecay()            (Adam's L2 term; skipped when 0)
 *   base = param * decoupledDecay()                  (AdamW's 1 - lr * wd; skipped when 1)
 *   m    = m * beta1 + g * (1 - beta1)
 *   v    = v * beta2 + (g * (1 - beta2)) * g
 *   vmax = max(vmax, v)                              (amsgrad)
 *   param = base + (m * -stepSize(t)) / (sqrt(amsgrad ? vmax : v) / biasCorrection2Sqrt(t) + eps)
 * </pre>
 * Scalars are computed in double ({@code 1 - beta1} included) and rounded to the dtype once. param, expAvg,
 * expAvgSq and maxExpAvgSq are written in place; grad is only read.
 *
 * @param hyper  the settings shared by every parameter of the update
 * @param params the parameters with their gradients and state
 */
public record AdamUpdate(AdamHyper hyper, List<Param> params) {
    public AdamUpdate {
        Objects.requireNonNull(hyper, "AdamUpdate: hyper is null");
        params = List.copyOf(params);
        for (int k = 0; k < params.size(); k++)
            if (hyper.amsgrad() != (params.get(k).maxExpAvgSq() != null))
                throw new IllegalArgumentException("AdamUpdate: parameter " + k + (hyper.amsgrad()
                        ? " has no maxExpAvgSq, which amsgrad needs" : " has a maxExpAvgSq, but amsgrad is off"));
    }

    /**
     * The tensors of one parameter, all of the parameter's shape.
     *
     * @param step        the number of this update, from 1 (the state's step count after it)
     * @param maxExpAvgSq the largest v so far; null unless amsgrad
     */
    public record Param(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor maxExpAvgSq, long step) {
        public Param {
            Objects.requireNonNull(param, "AdamUpdate.Param: param is null");
            Objects.requireNonNull(grad, "AdamUpdate.Param: grad is null");
            Objects.requireNonNull(expAvg, "AdamUpdate.Param: expAvg is null");
            Objects.requireNonNull(expAvgSq, "AdamUpdate.Param: expAvgSq is null");
            if (step < 1) throw new IllegalArgumentException("AdamUpdate.Param: step counts from 1, got " + step);
        }
    }
}
