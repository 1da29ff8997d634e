package dev.fluxion.cuda.amp;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayDeque;
import java.util.Optional;

/**
 * A mixed-precision scope for the current thread, as torch.autocast: inside it, ops that gain from tensor
 * cores run in a 16-bit dtype, and ops that need range or precision run in float32. The tensor ops
 * themselves do not consult it; layers and functionals do, through {@link #cast}, at the few places where
 * the policy matters (linear/matmul/attention inputs; softmax, norms and losses). Scopes nest; closing one
 * that is not the innermost is an error.
 *
 * <pre>{@code
 * try (var ac = Autocast.open(DType.BFLOAT16)) {
 *     Tensor h = Autocast.cast(Autocast.Policy.LOWER, x).matmul(Autocast.cast(Autocast.Policy.LOWER, w));  // bf16 GEMM
 *     Tensor p = Autocast.cast(Autocast.Policy.FLOAT32, h).softmax(-1);                                   // float32 softmax
 * }
 * }</pre>
 */
public final class Autocast implements AutoCloseable {
    /** How an op class treats its floating-point inputs under autocast (PyTorch's lists, abridged). */
    public enum Policy {
        /** matmul, linear, conv, attention: cast float32 inputs to the scope's dtype. */
        LOWER,
        /** softmax, logSoftmax, layer/RMS norm, losses, exp/log/pow, sums: cast 16-bit inputs to float32. */
        FLOAT32,
        /** everything else: leave inputs as they are. */
        KEEP
    }

    private static final ThreadLocal<ArrayDeque<Autocast>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

    private final DType dtype;
    private boolean closed;

    private Autocast(DType dtype) { this.dtype = dtype; }

    /** Opens a scope computing LOWER ops in dtype (float16 or bfloat16). */
    public static Autocast open(DType dtype) {
        if (dtype != DType.FLOAT16 && dtype != DType.BFLOAT16)
            throw new IllegalArgumentException("Autocast.open: dtype must be float16 or bfloat16, got " + dtype);
        Autocast a = new Autocast(dtype);
        STACK.get().push(a);
        return a;
    }

    /** The innermost open scope's dtype on this thread. */
    public static Optional<DType> current() {
        Autocast a = STACK.get().peek();
        return a == null ? Optional.empty() : Optional.of(a.dtype);
    }

    /** t converted as policy says under the current scope; t itself outside a scope, or when it is not a float. */
    public static Tensor cast(Policy policy, Tensor t) {
        Autocast a = STACK.get().peek();
        if (a == null || t == null || !t.dtype().isFloatingPoint() || t.dtype() == DType.FLOAT64) return t;
        return switch (policy) {
            case LOWER -> t.dtype() == DType.FLOAT32 ? t.to(a.dtype) : t;
            case FLOAT32 -> t.dtype() == DType.FLOAT16 || t.dtype() == DType.BFLOAT16 ? t.to(DType.FLOAT32) : t;
            case KEEP -> t;
        };
    }

    @Override public void close() {
        if (closed) return;
        ArrayDeque<Autocast> stack = STACK.get();
        if (stack.peek() != this) throw new IllegalStateException("Autocast.close: this scope is not the innermost open autocast scope of the thread");
        stack.pop();
        closed = true;
    }
}
