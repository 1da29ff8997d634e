package dev.fluxion.tensor;

/**
 * One fused Adam/AdamW update of a parameter, for backends with a fused kernel ({@link Backend#adamStep}).
 * Per element, in the parameter's dtype, exactly as the op-by-op path of module fluxion-optim computes it:
 * <pre>
 *   g    = grad + param * l2WeightDecay              (Adam's L2 term; skipped when 0)
 *   base = param * decoupledDecay                    (AdamW's 1 - lr * wd; skipped when 1)
 *   m    = m * beta1 + g * (1 - beta1)
 *   v    = v * beta2 + (g * (1 - beta2)) * g
 *   vmax = max(vmax, v)                              (amsgrad: vmax non-null)
 *   param = base + (m * -stepSize) / (sqrt(amsgrad ? vmax : v) / biasCorrection2Sqrt + eps)
 * </pre>
 * param, expAvg, expAvgSq and maxExpAvgSq are written in place.
 */
public record AdamUpdate(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor maxExpAvgSq,
                         double beta1, double beta2, double eps, double l2WeightDecay, double decoupledDecay,
                         double stepSize, double biasCorrection2Sqrt) {}
