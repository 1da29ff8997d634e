package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.SgdUpdate;
import dev.fluxion.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * The fused SGD step for contiguous float32 tensors: one pass over param, grad and the momentum buffer of
 * each parameter instead of up to eight tensor ops, with the same float rounding as the op-by-op path
 * ({@link SgdUpdate#compose}), so both give equal bits.
 */
final class CpuSgd {
    private CpuSgd() {}

    /** The kernel of {@link SgdUpdate} on the CPU: declines (the op path runs) unless every tensor qualifies. */
    static final FusedKernel<SgdUpdate> KERNEL = (op, inputs) -> step(op) ? new FusedOp.Result(op.params().get(0).param()) : null;

    /** Steps every parameter of u, or none (returns false) when one of them is not contiguous float32 on the CPU. */
    static boolean step(SgdUpdate u) {
        if (u.params().isEmpty()) return false;
        for (SgdUpdate.Param p : u.params()) if (!eligible(p)) return false;
        for (SgdUpdate.Param p : u.params()) step(p, u);
        return true;
    }

    private static boolean eligible(SgdUpdate.Param u) {
        long n = u.param().numel();
        for (Tensor t : new Tensor[] {u.param(), u.grad(), u.momentumBuffer()})
            if (t != null && (t.dtype() != DType.FLOAT32 || !t.isContiguous() || t.numel() != n
                    || !(t.storage() instanceof CpuStorage c) || !c.isSingleBuffer()))
                return false;
        return true;
    }

    private static void step(SgdUpdate.Param u, SgdUpdate h) {
        long n = u.param().numel();
        FloatBuffer p = buf(u.param()), g = buf(u.grad()), b = u.momentumBuffer() == null ? null : buf(u.momentumBuffer());
        // one buffer each (checked by eligible), so every index fits an int
        int po = (int) u.param().offset(), go = (int) u.grad().offset(), bo = b == null ? 0 : (int) u.momentumBuffer().offset();
        // the scalars as the op path rounds them: each to float once
        float wd = (float) h.weightDecay(), mom = (float) h.momentum(), omd = (float) (1 - h.dampening()), negLr = (float) -h.lr();
        boolean decay = h.weightDecay() != 0, damp = h.dampening() != 0, first = u.firstStep(), nesterov = h.nesterov();
        Parallel.forRange(n, Parallel.GRAIN, (lo, hi) -> {
            if (NativeKernels.ENABLED) {                                   // in place, no copies through scratch
                NativeKernels.sgd(p, po + lo, g, go + lo, b, bo + lo, hi - lo, wd, mom, omd, negLr, decay, damp, first, nesterov);
                return;
            }
            Scratch s = Scratch.get();
            float[] pa = s.fa, ga = s.fb, ba = s.fc;
            for (int at = (int) lo; at < hi; at += Scratch.CHUNK) {
                int len = (int) Math.min(Scratch.CHUNK, hi - at);
                p.get(po + at, pa, 0, len);
                g.get(go + at, ga, 0, len);
                if (b != null && !first) b.get(bo + at, ba, 0, len);
                for (int i = 0; i < len; i++) {                          // the float ops of SgdUpdate.compose, in its order
                    float d = decay ? ga[i] + pa[i] * wd : ga[i];
                    if (b != null) {
                        float next = first ? d : ba[i] * mom + (damp ? d * omd : d);
                        ba[i] = next;
                        d = nesterov ? d + next * mom : next;
                    }
                    pa[i] = pa[i] + d * negLr;
                }
                p.put(po + at, pa, 0, len);
                if (b != null) b.put(bo + at, ba, 0, len);
            }
        });
        u.param().storage().bumpVersion();
        if (b != null) u.momentumBuffer().storage().bumpVersion();
    }

    private static FloatBuffer buf(Tensor t) { return ((CpuStorage) t.storage()).floats("sgd step"); }
}
