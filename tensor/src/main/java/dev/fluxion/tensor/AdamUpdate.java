package dev.fluxion.tensor;

import java.util.List;
import java.util.Objects;

/**
 * One Adam/AdamW update of several parameters (a multi-tensor step): a non-differentiable {@link FusedOp}
 * whose composed default below is the reference (tensor ops, torch.optim.Adam's single-tensor path) and for
 * which backends register fused kernels in {@link FusedKernels} (the CPU's one-pass kernel, CUDA's adam.cu);
 * both give equal bits. Optimizers run it with {@code update.apply(update.tensors())}. Per element, in the parameter's dtype, exactly as the op-by-op path of module
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
public record AdamUpdate(AdamHyper hyper, List<Param> params) implements FusedOp {
    public AdamUpdate {
        Objects.requireNonNull(hyper, "AdamUpdate: hyper is null");
        params = List.copyOf(params);
        for (int k = 0; k < params.size(); k++)
            if (hyper.amsgrad() != (params.get(k).maxExpAvgSq() != null))
                throw new IllegalArgumentException("AdamUpdate: parameter " + k + (hyper.amsgrad()
                        ? " has no maxExpAvgSq, which amsgrad needs" : " has a maxExpAvgSq, but amsgrad is off"));
    }

    /** Every tensor of the update (param, grad, m, v and v_max of each parameter), for {@link #apply}. */
    public Tensor[] tensors() {
        java.util.List<Tensor> all = new java.util.ArrayList<>();
        for (Param p : params) {
            all.add(p.param());
            all.add(p.grad());
            all.add(p.expAvg());
            all.add(p.expAvgSq());
            if (p.maxExpAvgSq() != null) all.add(p.maxExpAvgSq());
        }
        return all.toArray(new Tensor[0]);
    }

    @Override public String name() { return "adam_step"; }

    @Override public boolean differentiable() { return false; }

    @Override public void check(Tensor[] inputs) {
        for (int k = 0; k < params.size(); k++) {
            Param p = params.get(k);
            for (Tensor t : new Tensor[] {p.grad(), p.expAvg(), p.expAvgSq(), p.maxExpAvgSq()})
                if (t != null && !java.util.Arrays.equals(t.shape(), p.param().shape()))
                    throw new IllegalArgumentException("adam_step: parameter " + k + " has shape " + Shape.str(p.param().shape())
                            + " but a gradient or state buffer of shape " + Shape.str(t.shape()));
        }
    }

    /**
     * The reference: each parameter's update by tensor ops, written in place into param and its state.
     * Scalars are computed in double and rounded to the parameter's dtype where they meet a tensor, as in
     * PyTorch; the kernels reproduce this rounding exactly.
     */
    @Override public Result compose(Tensor[] inputs) {
        for (Param p : params) {
            try (var scope = Scope.open()) {                   // bounds temporaries by one parameter
                long t = p.step();
                Tensor grad = p.grad(), param = p.param();
                Tensor g = hyper.l2WeightDecay() != 0 ? grad.add(param.mul(hyper.l2WeightDecay())) : grad;
                // 1 - lr * wd is rounded to the parameter's dtype once, as PyTorch's param.mul_(1 - lr * weight_decay)
                Tensor base = hyper.decoupledDecay() != 1 ? param.mul(hyper.decoupledDecay()) : param;
                Tensor m = p.expAvg().mul(hyper.beta1()).add(g.mul(1 - hyper.beta1()));
                Tensor v = p.expAvgSq().mul(hyper.beta2()).add(g.mul(1 - hyper.beta2()).mul(g));
                Tensor sel = v;
                if (hyper.amsgrad()) {
                    sel = p.maxExpAvgSq().maximum(v);
                    p.maxExpAvgSq().copy_(sel);
                }
                Tensor denom = sel.sqrt().div(hyper.biasCorrection2Sqrt(t)).add(hyper.eps());
                param.copy_(base.add(m.mul(-hyper.stepSize(t)).div(denom)));
                p.expAvg().copy_(m);
                p.expAvgSq().copy_(v);
            }
        }
        return new Result(params.isEmpty() ? null : params.get(0).param());
    }

    @Override public Save save(boolean[] needsGrad) { throw new IllegalStateException("adam_step has no gradient"); }

    @Override public Tensor[] backward(Saved saved, Tensor gradOutput) { throw new IllegalStateException("adam_step has no gradient"); }

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
