package dev.fluxion.optim;

import dev.fluxion.tensor.AdamHyper;
import dev.fluxion.tensor.AdamUpdate;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Adam/AdamW algorithm behind {@link Adam} and {@link AdamW}, for the settings of one {@link AdamHyper}.
 * The math itself is one place, the fused op {@link AdamUpdate}: its composed default is the op-by-op
 * reference (torch.optim.Adam's single-tensor path) and backends register fused kernels for it; both give
 * equal bits (tested). This class turns optimizer state records into updates.
 */
final class AdamStep {
    private AdamStep() {}

    static Adam.State init(Tensor param, AdamHyper h) {
        return new Adam.State(0, Tensor.zerosLike(param), Tensor.zerosLike(param), h.amsgrad() ? Tensor.zerosLike(param) : null);
    }

    static void checkLoaded(Adam.State s, AdamHyper h, String where) {
        if (h.amsgrad() && s.maxExpAvgSq() == null) throw new IllegalArgumentException(where + ": amsgrad, but max_exp_avg_sq is missing");
    }

    /** One update by tensor ops, whatever kernels the backend has: the reference the fused kernels are tested against. */
    static Adam.State reference(AdamHyper h, Tensor param, Tensor grad, Adam.State s) {
        Adam.State ready = withAmsgradBuffer(h, param, s);
        AdamUpdate u = new AdamUpdate(h, List.of(param(h, ready, param, grad)));
        u.compose(u.tensors());
        return advanced(h, ready);
    }

    /**
     * A group step (see {@link Optimizer#stepGroup}): the parameters of each device go to one multi-tensor
     * {@link AdamUpdate}, which runs the device's fused kernel, or the reference when the kernel declines.
     */
    static List<Adam.State> group(AdamHyper h, List<Tensor> params, List<Tensor> grads, List<Adam.State> states) {
        int n = params.size();
        Adam.State[] ready = new Adam.State[n], next = new Adam.State[n];
        Map<Device, List<Integer>> byDevice = new LinkedHashMap<>();
        for (int k = 0; k < n; k++) {
            ready[k] = withAmsgradBuffer(h, params.get(k), states.get(k) != null ? states.get(k) : init(params.get(k), h));
            byDevice.computeIfAbsent(params.get(k).device(), d -> new ArrayList<>()).add(k);
        }
        for (List<Integer> ks : byDevice.values()) {
            List<AdamUpdate.Param> batch = new ArrayList<>(ks.size());
            for (int k : ks) batch.add(param(h, ready[k], params.get(k), grads.get(k)));
            AdamUpdate u = new AdamUpdate(h, batch);
            u.apply(u.tensors());
            for (int k : ks) next[k] = advanced(h, ready[k]);
        }
        return Arrays.asList(next);
    }

    /**
     * s with a v_max buffer when amsgrad was switched on after earlier steps: zeros, since max(0, v) = v for
     * every v >= 0, which gives the same bits as starting v_max from v.
     */
    private static Adam.State withAmsgradBuffer(AdamHyper h, Tensor param, Adam.State s) {
        if (!h.amsgrad() || s.maxExpAvgSq() != null) return s;
        return new Adam.State(s.step(), s.expAvg(), s.expAvgSq(), Scope.escape(Tensor.zerosLike(param)));
    }

    private static AdamUpdate.Param param(AdamHyper h, Adam.State s, Tensor param, Tensor grad) {
        return new AdamUpdate.Param(param, grad, s.expAvg(), s.expAvgSq(), h.amsgrad() ? s.maxExpAvgSq() : null, s.step() + 1);
    }

    /** The state after an update written in place: the same buffers, one more step; v_max dropped when amsgrad is off. */
    private static Adam.State advanced(AdamHyper h, Adam.State s) {
        return new Adam.State(s.step() + 1, s.expAvg(), s.expAvgSq(), h.amsgrad() ? s.maxExpAvgSq() : null);
    }
}
