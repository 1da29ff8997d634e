package dev.fluxion.tensor;

import java.util.ArrayDeque;
import java.util.Optional;

/**
 * A mixed-precision scope for the current thread, as torch.autocast. Inside an enabled scope the ops
 * themselves (on every backend) apply PyTorch's policy to their floating-point inputs:
 * <ul>
 *   <li>{@link Policy#LOWER}: matmul, addmm, linear, conv2d and the GEMMs of attention cast float32 (and the
 *       other 16-bit dtype) to the scope's dtype and return it;</li>
 *   <li>{@link Policy#FLOAT32}: softmax, logSoftmax, layer and RMS norm, sum and mean, exp, log, rsqrt and the
 *       losses cast 16-bit inputs to float32 and return float32;</li>
 *   <li>elementwise ops on two floating dtypes (a bfloat16 activation plus a float32 residual or bias) run in
 *       the wider one, as PyTorch's type promotion does; outside autocast mixed dtypes stay an error.</li>
 * </ul>
 * float64 tensors are never cast. Each cast is an ordinary recorded {@code to(dtype)}, so a float32
 * parameter used by a bfloat16 matmul gets a float32 gradient. Backward runs with autocast off: every
 * backward op works in the dtypes its forward saw.
 *
 * <p>Scopes nest; the innermost one decides, and a scope opened with {@code enabled = false}
 * (torch.autocast(enabled=False)) turns the policy off inside an enabled one. Closing a scope that is not
 * the innermost open one of its thread is an error.
 *
 * <pre>{@code
 * try (var ac = Autocast.open(DType.BFLOAT16)) {
 *     Tensor logits = model.forward(x);              // bfloat16: every Linear ran a bfloat16 GEMM
 *     loss = Losses.crossEntropy(logits, y);         // float32: log-softmax and the mean run in float32
 * }
 * loss.backward();                                   // parameter gradients are float32
 * }</pre>
 */
public final class Autocast implements AutoCloseable {
    /** How an op treats its floating-point inputs under an enabled scope (PyTorch's op lists). */
    public enum Policy {
        /** matmul, linear, conv, attention: cast float32 and 16-bit inputs to the scope's dtype. */
        LOWER,
        /** softmax, logSoftmax, layer/RMS norm, losses, exp/log/rsqrt, sums: cast 16-bit inputs to float32. */
        FLOAT32,
        /** everything else: leave inputs as they are. */
        KEEP
    }

    private static final ThreadLocal<ArrayDeque<Autocast>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

    private final DType dtype;
    private final boolean enabled;
    private boolean closed;

    private Autocast(DType dtype, boolean enabled) {
        this.dtype = dtype;
        this.enabled = enabled;
    }

    /** Opens an enabled scope computing {@link Policy#LOWER} ops in dtype (float16 or bfloat16). */
    public static Autocast open(DType dtype) { return open(dtype, true); }

    /**
     * Opens a scope computing LOWER ops in dtype (float16 or bfloat16) when enabled; with enabled false the
     * scope turns autocast off until it closes, as torch.autocast(enabled=False).
     */
    public static Autocast open(DType dtype, boolean enabled) {
        if (dtype != DType.FLOAT16 && dtype != DType.BFLOAT16)
            throw new IllegalArgumentException("Autocast.open: dtype must be float16 or bfloat16, got " + dtype);
        Autocast a = new Autocast(dtype, enabled);
        STACK.get().push(a);
        return a;
    }

    /** A scope with autocast off (torch.autocast(enabled=False)): ops inside run in their inputs' dtypes. */
    public static Autocast disabled() { return open(DType.BFLOAT16, false); }

    /** The dtype of the innermost open scope on this thread; empty outside a scope or inside a disabled one. */
    public static Optional<DType> current() {
        Autocast a = STACK.get().peek();
        return a == null || !a.enabled ? Optional.empty() : Optional.of(a.dtype);
    }

    /** True inside an enabled scope on this thread. */
    public static boolean isEnabled() { return current().isPresent(); }

    /**
     * t converted as policy says under the current scope; t itself outside an enabled scope, and when it is
     * null, not floating point or float64 (PyTorch's autocast leaves float64 alone).
     */
    public static Tensor cast(Policy policy, Tensor t) {
        Autocast a = STACK.get().peek();
        if (a == null || !a.enabled || t == null || !t.dtype().isFloatingPoint() || t.dtype() == DType.FLOAT64) return t;
        return switch (policy) {
            case LOWER -> t.to(a.dtype);
            case FLOAT32 -> t.to(DType.FLOAT32);
            case KEEP -> t;
        };
    }

    /**
     * a and b converted to the wider of their two floating dtypes inside an enabled scope (bfloat16 with float32
     * is float32, bfloat16 with float16 is float32, anything with float64 is float64), as PyTorch's type
     * promotion; unchanged otherwise, so that mixed dtypes outside autocast still fail in the op's checks.
     */
    static Tensor[] promote(Tensor a, Tensor b) {
        DType da = a.dtype(), db = b.dtype();
        if (da == db || !da.isFloatingPoint() || !db.isFloatingPoint() || !isEnabled()) return new Tensor[] {a, b};
        DType to = da == DType.FLOAT64 || db == DType.FLOAT64 ? DType.FLOAT64 : DType.FLOAT32;
        return new Tensor[] {a.to(to), b.to(to)};
    }

    /** Closes this scope; it must be the innermost open one of the thread. Closing twice does nothing. */
    @Override public void close() {
        if (closed) return;
        ArrayDeque<Autocast> stack = STACK.get();
        if (stack.peek() != this)
            throw new IllegalStateException("Autocast.close: this " + (enabled ? dtype : "disabled") + " scope is not the innermost open autocast scope of the thread"
                    + " (" + stack.size() + " open); close scopes in reverse order of opening, as try-with-resources does");
        stack.pop();
        closed = true;
    }

    @Override public String toString() { return enabled ? "Autocast(" + dtype + ")" : "Autocast(disabled)"; }
}
