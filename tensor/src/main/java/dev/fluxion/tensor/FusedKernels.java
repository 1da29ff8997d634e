package dev.fluxion.tensor;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The registry of backend kernels for {@link FusedOp}s, by op and device kind, and the dispatch that runs
 * them. The CPU backend registers its kernels when it loads; the CUDA backend registers its own from
 * module fluxion-native when its provider loads. An op with no kernel for a device runs its composed
 * default there.
 *
 * <pre>{@code
 * FusedKernels.register(LayerNormOp.class, Device.Kind.CUDA, new CudaLayerNorm());
 * }</pre>
 */
public final class FusedKernels {
    private static final Map<Class<?>, Map<Device.Kind, FusedKernel<?>>> KERNELS = new ConcurrentHashMap<>();

    private FusedKernels() {}

    /** Makes kernel the one op runs on devices of kind (replacing any earlier one). */
    public static <O extends FusedOp> void register(Class<O> op, Device.Kind kind, FusedKernel<O> kernel) {
        KERNELS.compute(op, (k, m) -> {
            Map<Device.Kind, FusedKernel<?>> next = m == null ? new EnumMap<>(Device.Kind.class) : new EnumMap<>(m);
            next.put(kind, kernel);
            return next;
        });
    }

    /** The kernel registered for op on device, or null (then the composed default runs). */
    @SuppressWarnings("unchecked")
    public static <O extends FusedOp> FusedKernel<O> kernel(O op, Device device) {
        Backends.of(device);                       // loads the backends, and with them their registrations
        Map<Device.Kind, FusedKernel<?>> m = KERNELS.get(op.getClass());
        return m == null ? null : (FusedKernel<O>) m.get(device.kind());
    }

    static Tensor apply(FusedOp op, Tensor[] inputs) {
        if (inputs.length == 0) throw new IllegalArgumentException(op.name() + ": needs at least one input");
        for (Tensor t : inputs)
            if (t == null) throw new IllegalArgumentException(op.name() + ": inputs must not be null");
        op.check(inputs);
        for (Tensor t : inputs) Elementwise.checkDevice(op.name(), inputs[0], t);
        FusedOp.Result r = forward(op, inputs);
        if (op.differentiable()) Autograd.recordFused(op, r, inputs);
        return r.output();
    }

    /** The kernel's output and state for inputs, or the composed default's; records nothing. */
    public static FusedOp.Result forward(FusedOp op, Tensor[] inputs) {
        FusedKernel<FusedOp> k = kernel(op, inputs[0].device());
        try (var off = Autograd.paused()) {
            FusedOp.Result r = k == null ? null : k.forward(op, inputs);
            return r != null ? r : op.compose(inputs);
        }
    }

    /** The gradients of op from the kernel for the gradient's device, or from the op's composed rule. */
    public static Tensor[] backward(FusedOp op, Saved saved, Tensor gradOutput) {
        FusedKernel<FusedOp> k = kernel(op, gradOutput.device());
        Tensor[] grads = k == null ? null : k.backward(op, saved, gradOutput);
        return grads != null ? grads : op.backward(saved, gradOutput);
    }
}
