package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.bytedeco.javacpp.BytePointer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static org.bytedeco.cuda.global.cudart.cuMemcpyHtoDAsync;

/**
 * One Adam / AdamW step for every parameter of a model in one kernel launch (adam.cu), with PyTorch's
 * semantics (amsgrad off). Parameters float32, float16 or bfloat16; gradients float32, float16 or bfloat16;
 * moments m and v float32; all contiguous and on one GPU. For mixed precision, {@code gradScale} (a float32
 * scalar tensor, e.g. 1 / loss scale) multiplies the gradients and {@code skip} (a float32 scalar: non-zero
 * or NaN means a gradient overflowed) turns the step into a no-op, so nothing is read back to the host.
 *
 * <pre>{@code
 * FusedAdam.step(params, grads, m, v, step, FusedAdam.Config.ADAMW.withLr(3e-4), null, null);
 * }</pre>
 */
public final class FusedAdam {
    private FusedAdam() {}

    /** Hyper-parameters; decoupled = true is AdamW (decay applied to the weights), false is Adam (L2 on the gradient). */
    public record Config(double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {
        public static final Config ADAM = new Config(1e-3, 0.9, 0.999, 1e-8, 0, false);
        public static final Config ADAMW = new Config(1e-3, 0.9, 0.999, 1e-8, 1e-2, true);

        public Config {
            if (!(lr >= 0)) throw new IllegalArgumentException("FusedAdam: lr must be >= 0, got " + lr);
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
                throw new IllegalArgumentException("FusedAdam: betas must be in [0, 1), got " + beta1 + ", " + beta2);
            if (!(eps >= 0) || !(weightDecay >= 0)) throw new IllegalArgumentException("FusedAdam: eps and weightDecay must be >= 0");
        }

        public Config withLr(double v) { return new Config(v, beta1, beta2, eps, weightDecay, decoupled); }

        public Config withWeightDecay(double v) { return new Config(lr, beta1, beta2, eps, v, decoupled); }
    }

    static final int CHUNK = 65536;
    static final int RECORD_BYTES = 40;   // struct AdamChunk

    /** Applies step number {@code step} (1-based) in place to params, m and v. */
    public static void step(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, int step, Config c, Tensor gradScale, Tensor skip) {
        int n = params.size();
        if (grads.size() != n || m.size() != n || v.size() != n)
            throw new IllegalArgumentException("FusedAdam.step: " + n + " params but " + grads.size() + " grads, " + m.size() + " m, " + v.size() + " v");
        if (step < 1) throw new IllegalArgumentException("FusedAdam.step: step must be >= 1, got " + step);
        if (n == 0) return;
        CudaDevice d = Fused.device("FusedAdam.step", params.get(0));
        long chunks = 0;
        for (int i = 0; i < n; i++) {
            check(i, params.get(i), grads.get(i), m.get(i), v.get(i), params.get(0));
            chunks += (params.get(i).numel() + CHUNK - 1) / CHUNK;
        }
        for (Tensor s : new Tensor[] {gradScale, skip})
            if (s != null && (s.numel() != 1 || s.dtype() != DType.FLOAT32 || !s.device().equals(d.device)))
                throw new IllegalArgumentException("FusedAdam.step: gradScale and skip must be one-element float32 tensors on " + d.device);
        if (chunks == 0) return;
        int bytes = Math.toIntExact(chunks * RECORD_BYTES);
        Tensor table = Tensor.empty(DType.UINT8, d.device, bytes);
        try (BytePointer host = new BytePointer(bytes)) {
            ByteBuffer b = host.asByteBuffer().order(ByteOrder.nativeOrder());
            for (int i = 0; i < n; i++) writeChunks(b, params.get(i), grads.get(i), m.get(i), v.get(i));
            d.makeCurrent();
            Cuda.check(cuMemcpyHtoDAsync(CudaElementwise.address(table), host, bytes, d.stream), "cuMemcpyHtoDAsync(Adam table)");
        }
        double bc1 = 1 - Math.pow(c.beta1(), step), bc2 = 1 - Math.pow(c.beta2(), step);
        int blocks = (int) Math.min(chunks, 8L * d.multiprocessors);
        d.kernels.launch("fx_adam", blocks, 1, 1, Kernels.THREADS, 1, 1, KernelArgs.start().ptr(table).i32((int) chunks)
                .f32((float) c.lr()).f32((float) c.beta1()).f32((float) c.beta2()).f32((float) c.eps()).f32((float) c.weightDecay())
                .i32(c.decoupled() ? 1 : 0).f32((float) bc1).f32((float) bc2).ptr(gradScale).ptr(skip));
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
