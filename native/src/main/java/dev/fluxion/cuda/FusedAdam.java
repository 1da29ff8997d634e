package dev.fluxion.cuda;

import dev.fluxion.tensor.AdamHyper;
import dev.fluxion.tensor.AdamUpdate;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;


/**
 * One Adam / AdamW step for many parameters in one kernel launch (adam.cu), settings from {@link AdamHyper}
 * (amsgrad too, with a float32 max-of-v buffer per parameter) and per element the float32 operations of {@link AdamUpdate} in the same order, each rounded
 * once (no fused multiply-add), so that float32 parameters get the bits of the op-by-op path and of the CPU
 * kernel. Parameters float32, float16 or bfloat16; gradients float32, float16 or bfloat16; moments m and v
 * float32; all contiguous and on one GPU. The optimizers reach it through the fused op {@link AdamUpdate} (registered by {@link CudaFusedKernels}). For
 * mixed precision, {@code gradScale} (a float32 scalar tensor, e.g. 1 / loss scale) multiplies the gradients
 * and {@code skip} (a float32 scalar: non-zero or NaN means a gradient overflowed) turns the step into a
 * no-op, so nothing is read back to the host. With a skip flag the update number should come from the GPU as
 * well: {@link #step(List, List, List, List, List, Tensor, AdamHyper, Tensor, Tensor)} takes a device step count
 * (int64 scalar) that the kernels read for the bias corrections and advance only when the step was not skipped.
 *
 * <pre>{@code
 * FusedAdam.step(params, grads, m, v, step, AdamHyper.ADAMW.withLr(3e-4), null, null);
 * Tensor count = Tensor.zeros(DType.INT64, gpu);                                   // updates done so far
 * FusedAdam.step(params, grads, m, v, null, count, AdamHyper.ADAMW, invScale, foundInf);   // skipped: count stays
 * }</pre>
 */
public final class FusedAdam {
    private FusedAdam() {}

    static final int CHUNK = 65536;
    static final int RECORD_BYTES = 48;   // struct AdamChunk

    /** Applies update number {@code step} (1-based) in place to params, m and v (no amsgrad). */
    public static void step(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, long step, AdamHyper h, Tensor gradScale, Tensor skip) {
        if (step < 1) throw new IllegalArgumentException("FusedAdam.step: step must be >= 1, got " + step);
        if (h.amsgrad()) throw new IllegalArgumentException("FusedAdam.step: amsgrad needs the max-of-v buffers: use the overload that takes vmax");
        checked(params, grads, m, v, null, step, null, h, gradScale, skip);
    }

    /**
     * Applies one update in place to params, m, v (and vmax, amsgrad's running max of v: float32, or null without
     * amsgrad), its number read on the GPU from {@code stepCount} (an int64 scalar on the device: the updates done so
     * far), which a launch after the update advances unless {@code skip} (a float32 scalar, or null) is non-zero or
     * NaN. So a step skipped for an overflow leaves parameters, moments and the bias correction as they were, with no
     * host synchronisation.
     */
    public static void step(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, List<Tensor> vmax, Tensor stepCount,
                            AdamHyper h, Tensor gradScale, Tensor skip) {
        if (stepCount == null || stepCount.numel() != 1 || stepCount.dtype() != DType.INT64)
            throw new IllegalArgumentException("FusedAdam.step: stepCount must be a one-element int64 tensor, got "
                    + (stepCount == null ? "null" : stepCount.dtype() + " of " + stepCount.numel() + " elements"));
        if (h.amsgrad() != (vmax != null))
            throw new IllegalArgumentException("FusedAdam.step: amsgrad is " + h.amsgrad() + " but vmax buffers were " + (vmax == null ? "not " : "") + "given");
        checked(params, grads, m, v, vmax, 0, stepCount, h, gradScale, skip);
    }

    private static void checked(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, List<Tensor> vmax, long step, Tensor stepCount,
                                AdamHyper h, Tensor gradScale, Tensor skip) {
        int n = params.size();
        if (grads.size() != n || m.size() != n || v.size() != n || vmax != null && vmax.size() != n)
            throw new IllegalArgumentException("FusedAdam.step: " + n + " params but " + grads.size() + " grads, " + m.size() + " m, " + v.size() + " v"
                    + (vmax == null ? "" : ", " + vmax.size() + " vmax"));
        if (n == 0) return;
        CudaDevice d = Fused.device("FusedAdam.step", params.get(0));
        for (int i = 0; i < n; i++) check(i, params.get(i), grads.get(i), m.get(i), v.get(i), vmax == null ? null : vmax.get(i), params.get(0));
        for (Tensor s : new Tensor[] {gradScale, skip})
            if (s != null && (s.numel() != 1 || s.dtype() != DType.FLOAT32 || !s.device().equals(d.device)))
                throw new IllegalArgumentException("FusedAdam.step: gradScale and skip must be one-element float32 tensors on " + d.device);
        if (stepCount != null && !stepCount.device().equals(d.device))
            throw new IllegalArgumentException("FusedAdam.step: stepCount is on " + stepCount.device() + ", the parameters on " + d.device);
        launch(d, params, grads, m, v, vmax, step, stepCount, h, gradScale, skip);
    }

    /**
     * The kernel of {@link AdamUpdate} on CUDA: steps every parameter of u (one launch per distinct step count),
     * or none and returns false when adam.cu cannot take one of them (amsgrad, another device, a layout or
     * dtype it has no code for).
     */
    static boolean step(CudaDevice d, AdamUpdate u) {
        for (AdamUpdate.Param p : u.params()) if (!eligible(d, p)) return false;
        Map<Long, List<AdamUpdate.Param>> bySteps = new TreeMap<>();       // usually one: every parameter stepped as often
        for (AdamUpdate.Param p : u.params()) bySteps.computeIfAbsent(p.step(), k -> new ArrayList<>()).add(p);
        for (var e : bySteps.entrySet()) {
            List<AdamUpdate.Param> ps = e.getValue();
            launch(d, ps.stream().map(AdamUpdate.Param::param).toList(), ps.stream().map(AdamUpdate.Param::grad).toList(),
                    ps.stream().map(AdamUpdate.Param::expAvg).toList(), ps.stream().map(AdamUpdate.Param::expAvgSq).toList(),
                    u.hyper().amsgrad() ? ps.stream().map(AdamUpdate.Param::maxExpAvgSq).toList() : null,
                    e.getKey(), null, u.hyper(), null, null);
        }
        return true;
    }

    private static void launch(CudaDevice d, List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, List<Tensor> vmax, long step,
                               Tensor stepCount, AdamHyper h, Tensor gradScale, Tensor skip) {
        int n = params.size();
        long chunks = 0;
        for (Tensor p : params) chunks += (p.numel() + CHUNK - 1) / CHUNK;
        if (chunks == 0) {
            if (stepCount != null) d.kernels.launch("fx_adam_count", 1, 1, 1, 1, 1, 1, KernelArgs.start().ptr(stepCount).ptr(skip));
            return;
        }
        int bytes = Math.toIntExact(chunks * RECORD_BYTES);
        Tensor table = Tensor.empty(DType.UINT8, d.device, bytes);
        ByteBuffer b = ByteBuffer.allocate(bytes).order(ByteOrder.nativeOrder());
        for (int i = 0; i < n; i++) writeChunks(b, params.get(i), grads.get(i), m.get(i), v.get(i), vmax == null ? null : vmax.get(i));
        // the staging buffer lives until the copy ran (HostStaging), not just until the enqueue returned
        d.staging.upload(CudaElementwise.address(table), b.flip());
        int blocks = (int) Math.min(chunks, 8L * d.multiprocessors);
        // the scalars of AdamUpdate, computed in double by AdamHyper and rounded to float once, as the op path does;
        // with a device step count the kernel computes the two step-dependent ones the same way
        float negStep = stepCount == null ? (float) -h.stepSize(step) : 0f, bc2 = stepCount == null ? (float) h.biasCorrection2Sqrt(step) : 1f;
        d.kernels.launch("fx_adam", blocks, 1, 1, Kernels.THREADS, 1, 1, KernelArgs.start().ptr(table).i32((int) chunks)
                .f32((float) h.beta1()).f32((float) (1 - h.beta1())).f32((float) h.beta2()).f32((float) (1 - h.beta2()))
                .f32((float) h.eps()).f32((float) h.l2WeightDecay()).f32((float) h.decoupledDecay())
                .f32(negStep).f32(bc2).ptr(gradScale).ptr(skip).ptr(stepCount).f64(h.lr()).f64(h.beta1()).f64(h.beta2()));
        if (stepCount != null) d.kernels.launch("fx_adam_count", 1, 1, 1, 1, 1, 1, KernelArgs.start().ptr(stepCount).ptr(skip));
        table.close();
        for (int i = 0; i < n; i++) {
            params.get(i).storage().bumpVersion();
            m.get(i).storage().bumpVersion();
            v.get(i).storage().bumpVersion();
            if (vmax != null) vmax.get(i).storage().bumpVersion();
        }
        if (stepCount != null) stepCount.storage().bumpVersion();
    }

    /** One 48-byte AdamChunk record per CHUNK elements of a tensor; vmax null without amsgrad. */
    static void writeChunks(ByteBuffer b, Tensor p, Tensor g, Tensor m, Tensor v, Tensor vmax) {
        long numel = p.numel();
        long pa = CudaElementwise.address(p), ga = CudaElementwise.address(g), ma = CudaElementwise.address(m), va = CudaElementwise.address(v);
        long xa = vmax == null ? 0 : CudaElementwise.address(vmax);
        int ps = p.dtype().byteSize(), gs = g.dtype().byteSize();
        for (long at = 0; at < numel; at += CHUNK) {
            b.putLong(pa + at * ps).putLong(ga + at * gs).putLong(ma + at * 4L).putLong(va + at * 4L).putLong(xa == 0 ? 0 : xa + at * 4L);
            b.putInt((int) Math.min(CHUNK, numel - at)).putShort((short) Codes.of(p.dtype())).putShort((short) Codes.of(g.dtype()));
        }
    }

    private static boolean eligible(CudaDevice d, AdamUpdate.Param u) {
        Tensor p = u.param(), x = u.maxExpAvgSq();
        for (Tensor t : x == null ? new Tensor[] {p, u.grad(), u.expAvg(), u.expAvgSq()} : new Tensor[] {p, u.grad(), u.expAvg(), u.expAvgSq(), x})
            if (!t.device().equals(d.device) || !t.isContiguous() || t.numel() != p.numel()) return false;
        return half(p.dtype()) && half(u.grad().dtype()) && u.expAvg().dtype() == DType.FLOAT32 && u.expAvgSq().dtype() == DType.FLOAT32
                && (x == null || x.dtype() == DType.FLOAT32);
    }

    private static void check(int i, Tensor p, Tensor g, Tensor m, Tensor v, Tensor vmax, Tensor first) {
        String at = "FusedAdam.step: parameter " + i;
        for (Tensor t : vmax == null ? new Tensor[] {p, g, m, v} : new Tensor[] {p, g, m, v, vmax}) {
            if (!t.device().equals(first.device())) throw new IllegalArgumentException(at + ": tensors on " + t.device() + " and " + first.device());
            if (!t.isContiguous()) throw new IllegalArgumentException(at + ": tensors must be contiguous");
            if (t.numel() != p.numel()) throw new IllegalArgumentException(at + ": " + t.numel() + " elements, parameter has " + p.numel());
        }
        if (!half(p.dtype()) || !half(g.dtype())) throw new IllegalArgumentException(at + ": params and grads must be float32, float16 or bfloat16, got " + p.dtype() + " and " + g.dtype());
        if (m.dtype() != DType.FLOAT32 || v.dtype() != DType.FLOAT32 || vmax != null && vmax.dtype() != DType.FLOAT32)
            throw new IllegalArgumentException(at + ": m, v (and vmax) must be float32");
    }

    private static boolean half(DType t) { return t == DType.FLOAT32 || t == DType.FLOAT16 || t == DType.BFLOAT16; }
}
