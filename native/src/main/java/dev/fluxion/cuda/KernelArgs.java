package dev.fluxion.cuda;

import dev.fluxion.tensor.Tensor;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The {@code void** kernelParams} of one cuLaunchKernel: each argument's value is written, at its natural
 * alignment, into a reusable native block, and slot i of the pointer array holds that value's address.
 * One instance per thread, reused for every launch (no allocation per launch). It also keeps the tensors
 * whose addresses it holds reachable until the launch has been enqueued, so that the Cleaner cannot free
 * their memory in between.
 */
final class KernelArgs {
    static final int MAX_ARGS = 32;
    private static final int VALUE_BYTES = 2048;
    private static final ThreadLocal<KernelArgs> LOCAL = ThreadLocal.withInitial(KernelArgs::new);

    final BytePointer values = new BytePointer(VALUE_BYTES);
    final PointerPointer<?> slots = new PointerPointer<>(MAX_ARGS);
    private final ByteBuffer vb = values.asByteBuffer().order(ByteOrder.nativeOrder());
    private final ByteBuffer sb = slots.asByteBuffer().order(ByteOrder.nativeOrder());
    private final long base = values.address();
    private final Object[] keep = new Object[MAX_ARGS];
    private int count;

    private KernelArgs() {}

    /** This thread's argument block, emptied. */
    static KernelArgs start() {
        KernelArgs a = LOCAL.get();
        a.clear();
        return a;
    }

    void clear() {
        for (int i = 0; i < count; i++) keep[i] = null;
        count = 0;
        vb.clear();
    }

    int count() { return count; }

    private int slot(int size, int align) {
        if (count == MAX_ARGS) throw new IllegalStateException("KernelArgs: more than " + MAX_ARGS + " kernel arguments");
        int at = (vb.position() + align - 1) & -align;
        if (at + size > VALUE_BYTES) throw new IllegalStateException("KernelArgs: arguments exceed " + VALUE_BYTES + " bytes");
        sb.putLong(count * 8, base + at);
        vb.position(at);
        return count++;
    }

    KernelArgs i32(int v) { slot(4, 4); vb.putInt(v); return this; }

    KernelArgs i64(long v) { slot(8, 8); vb.putLong(v); return this; }

    KernelArgs f32(float v) { slot(4, 4); vb.putFloat(v); return this; }

    KernelArgs f64(double v) { slot(8, 8); vb.putDouble(v); return this; }

    /** A raw device address (0 is the null pointer). */
    KernelArgs ptr(long address) { return i64(address); }

    /** The device address of t's first element; t stays reachable until {@link #release()}. */
    KernelArgs ptr(Tensor t) {
        if (t == null) return ptr(0L);
        int i = slot(8, 8);
        keep[i] = t;
        vb.putLong(CudaStorage.of(t).address() + (long) t.offset() * t.dtype().byteSize());
        return this;
    }

    /** A struct passed by value. */
    KernelArgs iter(Iter it) {
        slot(Iter.BYTES, 4);
        it.writeTo(vb);
        return this;
    }

    /** The address of argument i's value (for tests). */
    long valueAddress(int i) { return sb.getLong(i * 8); }

    /** Called after the launch was enqueued: the kernel no longer needs the Java objects. */
    void release() {
        Reference.reachabilityFence(keep);
        for (int i = 0; i < count; i++) keep[i] = null;
    }
}
