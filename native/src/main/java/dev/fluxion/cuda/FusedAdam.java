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
 * (amsgrad off) and per element the float32 operations of {@link AdamUpdate} in the same order, each rounded
 * once (no fused multiply-add), so that float32 parameters get the bits of the op-by-op path and of the CPU
 * kernel. Parameters float32, float16 or bfloat16; gradients float32, float16 or bfloat16; moments m and v
 * float32; all contiguous and on one GPU. The optimizers reach it through the fused op {@link AdamUpdate} (registered by {@link CudaFusedKernels}). For
 * mixed precision, {@code gradScale} (a float32 scalar tensor, e.g. 1 / loss scale) multiplies the gradients
 * and {@code skip} (a float32 scalar: non-zero or NaN means a gradient overflowed) turns the step into a
 * no-op, so nothing is read back to the host.
 *
 * <pre>{@code
 * FusedAdam.step(params, grads, m, v, step, AdamHyper.ADAMW.withLr(3e-4), null, null);
 * }</pre>
 */
public final class FusedAdam {
    private FusedAdam() {}

    static final int CHUNK = 65536;
    static final int RECORD_BYTES = 40;   // struct AdamChunk

    /** Applies update number {@code step} (1-based) in place to params, m and v. */
    public static void step(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, long step, AdamHyper h, Tensor gradScale, Tensor skip) {
        int n = params.size();
        if (grads.size() != n || m.size() != n || v.size() != n)
            throw new IllegalArgumentException("FusedAdam.step: " + n + " params but " + grads.size() + " grads, " + m.size() + " m, " + v.size() + " v");
        if (step < 1) throw new IllegalArgumentException("FusedAdam.step: step must be >= 1, got " + step);
        if (h.amsgrad()) throw new IllegalArgumentException("FusedAdam.step: amsgrad is not implemented by adam.cu (no max_exp_avg_sq buffer); step it with tensor ops");
        if (n == 0) return;
        CudaDevice d = Fused.device("FusedAdam.step", params.get(0));
        for (int i = 0; i < n; i++) check(i, params.get(i), grads.get(i), m.get(i), v.get(i), params.get(0));
        for (Tensor s : new Tensor[] {gradScale, skip})
            if (s != null && (s.numel() != 1 || s.dtype() != DType.FLOAT32 || !s.device().equals(d.device)))
                throw new IllegalArgumentException("FusedAdam.step: gradScale and skip must be one-element float32 tensors on " + d.device);
        launch(d, params, grads, m, v, step, h, gradScale, skip);
    }

    /**
     * The kernel of {@link AdamUpdate} on CUDA: steps every parameter of u (one launch per distinct step count),
     * or none and returns false when adam.cu cannot take one of them (amsgrad, another device, a layout or
     * dtype it has no code for).
     */
    static boolean step(CudaDevice d, AdamUpdate u) {
        if (u.hyper().amsgrad()) return false;
        for (AdamUpdate.Param p : u.params()) if (!eligible(d, p)) return false;
        Map<Long, List<AdamUpdate.Param>> bySteps = new TreeMap<>();       // usually one: every parameter stepped as often
        for (AdamUpdate.Param p : u.params()) bySteps.computeIfAbsent(p.step(), k -> new ArrayList<>()).add(p);
        for (var e : bySteps.entrySet()) {
            List<AdamUpdate.Param> ps = e.getValue();
            launch(d, ps.stream().map(AdamUpdate.Param::param).toList(), ps.stream().map(AdamUpdate.Param::grad).toList(),
                    ps.stream().map(AdamUpdate.Param::expAvg).toList(), ps.stream().map(AdamUpdate.Param::expAvgSq).toList(),
                    e.getKey(), u.hyper(), null, null);
        }
        return true;
    }

    private static void launch(CudaDevice d, List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, long step, AdamHyper h,
                               Tensor gradScale, Tensor skip) {
        int n = params.size();
        long chunks = 0;
        for (Tensor p : params) chunks += (p.numel() + CHUNK - 1) / CHUNK;
        if (chunks == 0) return;
        int bytes = Math.toIntExact(chunks * RECORD_BYTES);
        Tensor table = Tensor.empty(DType.UINT8, d.device, bytes);
        ByteBuffer b = ByteBuffer.allocate(bytes).order(ByteOrder.nativeOrder());
        for (int i = 0; i < n; i++) writeChunks(b, params.get(i), grads.get(i), m.get(i), v.get(i));
        // the staging buffer lives until the copy ran (HostStaging), not just until the enqueue returned
        d.staging.upload(CudaElementwise.address(table), b.flip());
        int blocks = (int) Math.min(chunks, 8L * d.multiprocessors);
        // the scalars of AdamUpdate, computed in double by AdamHyper and rounded to float once, as the op path does
        d.kernels.launch("fx_adam", blocks, 1, 1, Kernels.THREADS, 1, 1, KernelArgs.start().ptr(table).i32((int) chunks)
                .f32((float) h.beta1()).f32((float) (1 - h.beta1())).f32((float) h.beta2()).f32((float) (1 - h.beta2()))
                .f32((float) h.eps()).f32((float) h.l2WeightDecay()).f32((float) h.decoupledDecay())
                .f32((float) -h.stepSize(step)).f32((float) h.biasCorrection2Sqrt(step)).ptr(gradScale).ptr(skip));
        table.close();
        for (int i = 0; i < n; i++) {
            params.get(i).storage().bumpVersion();
            m.get(i).storage().bumpVersion();
            v.get(i).storage().bumpVersion();
        }
    }

    /** One 40-byte AdamChunk record per CHUNK elements of a tensor. */
    static void writeChunks(ByteBuffer b, Tensor p, Tensor g, Tensor m, Tensor v) {
        long numel = p.numel();
        long pa = CudaElementwise.address(p), ga = CudaElementwise.address(g), ma = CudaElementwise.address(m), va = CudaElementwise.address(v);
        int ps = p.dtype().byteSize(), gs = g.dtype().byteSize();
        for (long at = 0; at < numel; at += CHUNK) {
            b.putLong(pa + at * ps).putLong(ga + at * gs).putLong(ma + at * 4L).putLong(va + at * 4L);
            b.putInt((int) Math.min(CHUNK, numel - at)).putShort((short) Codes.of(p.dtype())).putShort((short) Codes.of(g.dtype()));
        }
    }

    private static boolean eligible(CudaDevice d, AdamUpdate.Param u) {
        Tensor p = u.param();
        for (Tensor t : new Tensor[] {p, u.grad(), u.expAvg(), u.expAvgSq()})
            if (!t.device().equals(d.device) || !t.isContiguous() || t.numel() != p.numel()) return false;
        return half(p.dtype()) && half(u.grad().dtype()) && u.expAvg().dtype() == DType.FLOAT32 && u.expAvgSq().dtype() == DType.FLOAT32;
    }

    private static void check(int i, Tensor p, Tensor g, Tensor m, Tensor v, Tensor first) {
        String at = "FusedAdam.step: parameter " + i;
        for (Tensor t : new Tensor[] {p, g, m, v}) {
            if (!t.device().equals(first.device())) throw new IllegalArgumentException(at + ": tensors on " + t.device() + " and " + first.device());
            if (!t.isContiguous()) throw new IllegalArgumentException(at + ": tensors must be contiguous");
            if (t.numel() != p.numel()) throw new IllegalArgumentException(at + ": " + t.numel() + " elements, parameter has " + p.numel());
        }
        if (!half(p.dtype()) || !half(g.dtype())) throw new IllegalArgumentException(at + ": params and grads must be float32, float16 or bfloat16, got " + p.dtype() + " and " + g.dtype());
        if (m.dtype() != DType.FLOAT32 || v.dtype() != DType.FLOAT32) throw new IllegalArgumentException(at + ": m and v must be float32");
    }

    private static boolean half(DType t) { return t == DType.FLOAT32 || t == DType.FLOAT16 || t == DType.BFLOAT16; }
}
