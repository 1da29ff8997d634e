package dev.fluxion.optim;

import dev.fluxion.tensor.AdamHyper;
import dev.fluxion.tensor.AdamUpdate;
import dev.fluxion.tensor.Backends;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Adam/AdamW algorithm behind {@link Adam} and {@link AdamW}, for the settings of one {@link AdamHyper}:
 * the op-by-op reference (torch.optim.Adam's single-tensor path) and the group step that hands every eligible
 * parameter to the backend's fused multi-tensor kernel ({@link dev.fluxion.tensor.Backend#adamStep}) and
 * the rest to the reference. Both give equal bits (tested).
 */
final class AdamStep {
    private AdamStep() {}

    static Adam.State init(Tensor param, AdamHyper h) {
        return new Adam.State(0, Tensor.zerosLike(param), Tensor.zerosLike(param), h.amsgrad() ? Tensor.zerosLike(param) : null);
    }

    static void checkLoaded(Adam.State s, AdamHyper h, String where) {
        if (h.amsgrad() && s.maxExpAvgSq() == null) throw new IllegalArgumentException(where + ": amsgrad, but max_exp_avg_sq is missing");
    }

    /**
     * One update by tensor ops (see {@link Adam} for the formulas): the reference, and the path for tensors
     * that no fused kernel takes. Scalars are computed in double and rounded to the parameter's dtype where
     * they meet a tensor, as in PyTorch.
     */
    static Adam.State reference(AdamHyper h, Tensor param, Tensor grad, Adam.State s) {
        long t = s.step() + 1;
        Tensor g = h.l2WeightDecay() != 0 ? grad.add(param.mul(h.l2WeightDecay())) : grad;
        // 1 - lr * wd is rounded to the parameter's dtype once, as PyTorch's param.mul_(1 - lr * weight_decay)
        Tensor base = h.decoupledDecay() != 1 ? param.mul(h.decoupledDecay()) : param;
        Tensor m = s.expAvg().mul(h.beta1()).add(g.mul(1 - h.beta1()));
        Tensor v = s.expAvgSq().mul(h.beta2()).add(g.mul(1 - h.beta2()).mul(g));
        Tensor vMax = null;
        if (h.amsgrad()) vMax = s.maxExpAvgSq() != null ? s.maxExpAvgSq().maximum(v) : v.copy();   // null: amsgrad newly switched on
        Tensor denom = (h.amsgrad() ? vMax : v).sqrt().div(h.biasCorrection2Sqrt(t)).add(h.eps());
        param.copy_(base.add(m.mul(-h.stepSize(t)).div(denom)));
        return new Adam.State(t, m, v, vMax);
    }

    /**
     * A group step (see {@link Optimizer#stepGroup}): the parameters of each device go to its backend's fused
     * kernel in one call; when the backend refuses the batch (one tensor of a dtype or layout it has no kernel
     * for), each parameter is offered alone, and those refused again take the reference path.
     */
    @SuppressWarnings("try")   // scopes used only for what closing them does
    static List<Adam.State> group(AdamHyper h, List<Tensor> params, List<Tensor> grads, List<Adam.State> states) {
        int n = params.size();
        Adam.State[] cur = new Adam.State[n], next = new Adam.State[n];
        Map<Device, List<Integer>> byDevice = new LinkedHashMap<>();
        for (int k = 0; k < n; k++) {
            cur[k] = states.get(k) != null ? states.get(k) : init(params.get(k), h);
            if (h.amsgrad() && cur[k].maxExpAvgSq() == null) continue;       // amsgrad newly switched on: the reference starts v_max
            byDevice.computeIfAbsent(params.get(k).device(), d -> new ArrayList<>()).add(k);
        }
        for (var e : byDevice.entrySet()) {
            List<Integer> ks = e.getValue();
            if (!fused(h, e.getKey(), ks, params, grads, cur, next) && ks.size() > 1)
                for (int k : ks) fused(h, e.getKey(), List.of(k), params, grads, cur, next);
        }
        for (int k = 0; k < n; k++) {
            if (next[k] != null) continue;
            try (var scope = Scope.open()) {                                   // bounds temporaries by one parameter
                next[k] = reference(h, params.get(k), grads.get(k), cur[k]);
                for (Tensor t : StateCodec.tensors(next[k])) Scope.escape(t);
            }
        }
        return Arrays.asList(next);
    }

    /** Offers parameters ks to the backend's fused kernel; on success their next states (buffers updated in place) are set. */
    private static boolean fused(AdamHyper h, Device device, List<Integer> ks, List<Tensor> params, List<Tensor> grads,
                                 Adam.State[] cur, Adam.State[] next) {
        List<AdamUpdate.Param> batch = new ArrayList<>(ks.size());
        for (int k : ks) {
            Adam.State s = cur[k];
            batch.add(new AdamUpdate.Param(params.get(k), grads.get(k), s.expAvg(), s.expAvgSq(),
                    h.amsgrad() ? s.maxExpAvgSq() : null, s.step() + 1));
        }
        if (!Backends.of(device).adamStep(new AdamUpdate(h, batch))) return false;
        for (int k : ks) {
            Adam.State s = cur[k];
            next[k] = new Adam.State(s.step() + 1, s.expAvg(), s.expAvgSq(), h.amsgrad() ? s.maxExpAvgSq() : null);
        }
        return true;
    }
}
