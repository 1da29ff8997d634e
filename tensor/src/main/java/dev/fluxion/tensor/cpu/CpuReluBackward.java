package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.ReluBackwardOp;
import dev.fluxion.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * The kernel of {@link ReluBackwardOp} for contiguous float32 tensors: {@code output <= 0 ? 0 : grad} in one
 * pass, instead of a bool mask written element by element and then a where. Same bits as the composed
 * default (a NaN output fails {@code <= 0}, so it passes the gradient).
 */
final class CpuReluBackward {
    private CpuReluBackward() {}

    /** Declines (the composed default runs) unless both inputs are contiguous float32 in one CPU buffer. */
    static final FusedKernel<ReluBackwardOp> KERNEL = (op, in) -> eligible(in[0]) && eligible(in[1]) ? new FusedOp.Result(run(in[0], in[1])) : null;

    private static boolean eligible(Tensor t) {
        return t.dtype() == DType.FLOAT32 && t.isContiguous() && t.storage() instanceof CpuStorage c && c.isSingleBuffer();
    }

    private static Tensor run(Tensor grad, Tensor out) {
        long n = grad.numel();
        Tensor y = CpuBackend.empty(DType.FLOAT32, grad.shape());
        FloatBuffer g = buf(grad), o = buf(out), r = buf(y);
        int go = (int) grad.offset(), oo = (int) out.offset(), ro = (int) y.offset();   // one buffer each, so int indices
        Parallel.forRange(n, Parallel.GRAIN, (lo, hi) -> {
            Scratch s = Scratch.get();
            float[] ga = s.fa, oa = s.fb, ya = s.fc;
            for (int at = (int) lo; at < hi; at += Scratch.CHUNK) {
                int len = (int) Math.min(Scratch.CHUNK, hi - at);
                g.get(go + at, ga, 0, len);
                o.get(oo + at, oa, 0, len);
                int i = 0;
                if (NativeKernels.ENABLED) { NativeKernels.reluBackward(ga, oa, ya, len); i = len; }
                else if (Simd.ENABLED) i = VectorKernels.reluBackward(ga, oa, ya, len);
                for (; i < len; i++) ya[i] = oa[i] <= 0 ? 0f : ga[i];   // the same choice as a vector lane
                r.put(ro + at, ya, 0, len);
            }
        });
        return y;
    }

    private static FloatBuffer buf(Tensor t) { return ((CpuStorage) t.storage()).floats("threshold_backward"); }
}
