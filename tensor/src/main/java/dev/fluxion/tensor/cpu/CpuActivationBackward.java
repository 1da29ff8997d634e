package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.ActivationBackwardOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.UnaryOp;

import java.nio.FloatBuffer;

/**
 * The kernel of {@link ActivationBackwardOp} for contiguous float32 tensors: per chunk, the derivative of each
 * input element and its product with the gradient, without the derivative tensor the composed default writes.
 * The product is taken as {@code grad * derivative}, the composed default's order, so the bits are the same.
 */
final class CpuActivationBackward {
    private CpuActivationBackward() {}

    /** Declines (the composed default runs) unless both inputs are contiguous float32 in one CPU buffer. */
    static final FusedKernel<ActivationBackwardOp> KERNEL = (op, in) ->
            eligible(in[0]) && eligible(in[1]) ? new FusedOp.Result(run(ActivationBackwardOp.derivative(op.activation()), in[0], in[1])) : null;

    private static boolean eligible(Tensor t) {
        return t.dtype() == DType.FLOAT32 && t.isContiguous() && t.storage() instanceof CpuStorage c && c.isSingleBuffer();
    }

    private static Tensor run(UnaryOp derivative, Tensor grad, Tensor input) {
        long n = grad.numel();
        Tensor y = CpuBackend.empty(DType.FLOAT32, grad.shape());
        FloatBuffer g = buf(grad), x = buf(input), r = buf(y);
        int go = (int) grad.offset(), xo = (int) input.offset(), ro = (int) y.offset();   // one buffer each, so int indices
        Parallel.forRange(n, Parallel.GRAIN, (lo, hi) -> {
            Scratch s = Scratch.get();
            float[] ga = s.fa, xa = s.fb, ya = s.fc;
            for (int at = (int) lo; at < hi; at += Scratch.CHUNK) {
                int len = (int) Math.min(Scratch.CHUNK, hi - at);
                g.get(go + at, ga, 0, len);
                x.get(xo + at, xa, 0, len);
                FloatKernels.unary(derivative, xa, ya, len);
                FloatKernels.binary(dev.fluxion.tensor.BinaryOp.MUL, ga, ya, ya, len);
                r.put(ro + at, ya, 0, len);
            }
        });
        return y;
    }

    private static FloatBuffer buf(Tensor t) { return ((CpuStorage) t.storage()).floats("activation_backward"); }
}
