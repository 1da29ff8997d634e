package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.ReluBackwardOp;

/**
 * The kernel of {@link ReluBackwardOp} for contiguous float32 tensors: {@code output <= 0 ? 0 : grad} in one
 * pass, instead of a bool mask written element by element and then a where. Same bits as the composed
 * default (a NaN output fails {@code <= 0}, so it passes the gradient).
 */
final class CpuReluBackward {
    private CpuReluBackward() {}

    /** Declines (the composed default runs) unless both inputs are contiguous float32 in one CPU buffer. */
    static final FusedKernel<ReluBackwardOp> KERNEL = (op, in) -> {
        if (!Zip.eligible(in[0]) || !Zip.eligible(in[1])) return null;
        return new FusedOp.Result(NativeKernels.ENABLED ? Zip.floats(op.name(), in[0], in[1], (Zip.Range) NativeKernels::reluBackwardAt)
                : Zip.floats(op.name(), in[0], in[1], CpuReluBackward::chunk));
    };

    private static void chunk(float[] g, float[] out, float[] y, int len) {
        int i = Simd.ENABLED ? VectorKernels.reluBackward(g, out, y, len) : 0;
        for (; i < len; i++) y[i] = out[i] <= 0 ? 0f : g[i];      // the same choice as a vector lane
    }
}
