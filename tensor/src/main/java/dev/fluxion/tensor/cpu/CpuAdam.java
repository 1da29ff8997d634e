package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.AdamHyper;
import dev.fluxion.tensor.AdamUpdate;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * The fused Adam/AdamW step for contiguous float32 tensors: one pass over param, grad and the moments of
 * each parameter instead of a dozen tensor ops, with the same float rounding as the op-by-op path (so both
 * give equal bits).
 */
final class CpuAdam {
    private CpuAdam() {}

    /** The kernel of {@link AdamUpdate} on the CPU: declines (the op path runs) unless every tensor qualifies. */
    static final FusedKernel<AdamUpdate> KERNEL = (op, inputs) -> step(op) ? new FusedOp.Result(op.params().get(0).param()) : null;

    /** Steps every parameter of u, or none (returns false) when one of them is not contiguous float32 on the CPU. */
    static boolean step(AdamUpdate u) {
        for (AdamUpdate.Param p : u.params()) if (!eligible(p)) return false;
        for (AdamUpdate.Param p : u.params()) step(p, u.hyper());
        return true;
    }

    private static boolean eligible(AdamUpdate.Param u) {
        long n = u.param().numel();
        for (Tensor t : new Tensor[] {u.param(), u.grad(), u.expAvg(), u.expAvgSq(), u.maxExpAvgSq()})  // else the op path, any layout and size
            if (t != null && (t.dtype() != DType.FLOAT32 || !t.isContiguous() || t.numel() != n
                    || !(t.storage() instanceof CpuStorage c) || !c.isSingleBuffer()))
                return false;
        return true;
    }

    private static void step(AdamUpdate.Param u, AdamHyper h) {
        long n = u.param().numel();
        FloatBuffer p = buf(u.param()), g = buf(u.grad()), m = buf(u.expAvg()), v = buf(u.expAvgSq());
        FloatBuffer vmax = u.maxExpAvgSq() == null ? null : buf(u.maxExpAvgSq());
        // one buffer each (checked by eligible), so every index fits an int
        int po = (int) u.param().offset(), go = (int) u.grad().offset(), mo = (int) u.expAvg().offset(), vo = (int) u.expAvgSq().offset();
        int xo = u.maxExpAvgSq() == null ? 0 : (int) u.maxExpAvgSq().offset();
        float b1 = (float) h.beta1(), omb1 = (float) (1 - h.beta1()), b2 = (float) h.beta2(), omb2 = (float) (1 - h.beta2());
        float eps = (float) h.eps(), wd = (float) h.l2WeightDecay(), decay = (float) h.decoupledDecay();
        float negStep = (float) -h.stepSize(u.step()), bc2 = (float) h.biasCorrection2Sqrt(u.step());
        boolean l2 = h.l2WeightDecay() != 0, decoupled = h.decoupledDecay() != 1;
        Parallel.forRange(n, Parallel.GRAIN, (lo, hi) -> {
            if (NativeKernels.ENABLED) {                                   // in place, no copies through scratch
                NativeKernels.adam(p, po + lo, g, go + lo, m, mo + lo, v, vo + lo, vmax, xo + lo, hi - lo,
                        b1, omb1, b2, omb2, eps, wd, decay, l2, decoupled, negStep, bc2);
                return;
            }
            Scratch s = Scratch.get();
            float[] pa = s.fa, ga = s.fb, ma = s.fc, va = s.fd;
            float[] xa = vmax == null ? null : new float[Scratch.CHUNK];
            for (int at = (int) lo; at < hi; at += Scratch.CHUNK) {
                int len = (int) Math.min(Scratch.CHUNK, hi - at);
                p.get(po + at, pa, 0, len);
                g.get(go + at, ga, 0, len);
                m.get(mo + at, ma, 0, len);
                v.get(vo + at, va, 0, len);
                if (xa != null) vmax.get(xo + at, xa, 0, len);
                int i = Simd.ENABLED ? VectorAdam.step(pa, ga, ma, va, xa, len, h, l2, decoupled, negStep, bc2) : 0;
                for (; i < len; i++) {                                   // the same float ops as a vector lane
                    float pv = pa[i], gv = l2 ? ga[i] + pv * wd : ga[i];
                    float base = decoupled ? pv * decay : pv;
                    float mv = ma[i] * b1 + gv * omb1, vv = va[i] * b2 + gv * omb2 * gv;
                    float sel = vv;
                    if (xa != null) { sel = Math.max(xa[i], vv); xa[i] = sel; }
                    float denom = (float) Math.sqrt(sel) / bc2 + eps;
                    pa[i] = base + mv * negStep / denom;
                    ma[i] = mv;
                    va[i] = vv;
                }
                p.put(po + at, pa, 0, len);
                m.put(mo + at, ma, 0, len);
                v.put(vo + at, va, 0, len);
                if (xa != null) vmax.put(xo + at, xa, 0, len);
            }
        });
        for (Tensor t : new Tensor[] {u.param(), u.expAvg(), u.expAvgSq(), u.maxExpAvgSq()}) if (t != null) t.storage().bumpVersion();
    }

    private static FloatBuffer buf(Tensor t) { return ((CpuStorage) t.storage()).floats("adam step"); }
}
