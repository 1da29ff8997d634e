package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.ActivationBackwardOp;
import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.UnaryOp;

/**
 * The kernel of {@link ActivationBackwardOp} for contiguous float32 tensors: per chunk, the derivative of each
 * input element and its product with the gradient, without the derivative tensor the composed default writes.
 * The product is taken as {@code grad * derivative}, the composed default's order, so the bits are the same.
 */
final class CpuActivationBackward {
    private CpuActivationBackward() {}

    /** Declines (the composed default runs) unless both inputs are contiguous float32 in one CPU buffer. */
    static final FusedKernel<ActivationBackwardOp> KERNEL = (op, in) -> {
        if (!Zip.eligible(in[0]) || !Zip.eligible(in[1])) return null;
        UnaryOp derivative = ActivationBackwardOp.derivative(op.activation());
        if (NativeKernels.ENABLED) {
            int code = NativeKernels.code(derivative);
            return new FusedOp.Result(Zip.floats(op.name(), in[0], in[1],
                    (Zip.Range) (g, go, x, xo, y, yo, n) -> NativeKernels.gradTimesDerivativeAt(code, g, go, x, xo, y, yo, n)));
        }
        return new FusedOp.Result(Zip.floats(op.name(), in[0], in[1], (Zip.Chunk) (g, x, y, len) -> {
            FloatKernels.unary(derivative, x, y, len);
            FloatKernels.binary(BinaryOp.MUL, g, y, y, len);           // grad * derivative, the composed default's order
        }));
    };
}
