package dev.fluxion.tensor.cpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A caching pool of off-heap buffers for CPU tensors. Fresh pages cost ~2 ms per MiB to touch on the
 * machines we target, so an out-of-place op that reuses a freed buffer runs at in-place speed. Buffers
 * come back through {@code Tensor.close()}, a closed scope, or the Cleaner once a storage is unreachable.
 * Sizes are rounded up to classes (powers of two split in eight) so that buffers are reusable across
 * slightly different shapes; at most {@code fluxion.cpu.cacheBytes} (default 2 GiB) is kept cached.
 */
public final class CpuMemory {
    private static final long CACHE_LIMIT = Long.getLong("fluxion.cpu.cacheBytes", 2L << 30);
    private static final ConcurrentHashMap<Integer, ConcurrentLinkedDeque<ByteBuffer>> FREE = new ConcurrentHashMap<>();
    private static final AtomicLong IN_USE = new AtomicLong();
    private static final AtomicLong PEAK = new AtomicLong();
    private static final AtomicLong CACHED = new AtomicLong();

    private CpuMemory() {}

    /** Statistics in bytes: what live storages hold, the highest that has been, what is cached for reuse. */
    public record Stats(long inUse, long peak, long cached) {}

    public static Stats stats() { return new Stats(IN_USE.get(), PEAK.get(), CACHED.get()); }

    /** Drops every cached buffer (the JVM frees them when they are collected). */
    public static void emptyCache() {
        FREE.values().forEach(ConcurrentLinkedDeque::clear);
        CACHED.set(0);
    }

    static int sizeClass(long bytes) {
        if (bytes > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException("CPU tensors are limited to 2 GiB each; " + bytes + " bytes requested");
        if (bytes <= 512) return 512;
        long p = Long.highestOneBit(bytes - 1);             // the power of two just below
        long step = Math.max(p / 8, 512);
        long rounded = (bytes + step - 1) / step * step;
        return (int) Math.min(rounded, Integer.MAX_VALUE - 8);
    }

    /** A buffer of at least {@code bytes} bytes, native byte order; its contents are undefined. */
    static ByteBuffer acquire(long bytes) {
        int cls = sizeClass(bytes);
        ConcurrentLinkedDeque<ByteBuffer> list = FREE.get(cls);
        ByteBuffer b = list == null ? null : list.pollFirst();
        if (b != null) CACHED.addAndGet(-cls);
        else b = ByteBuffer.allocateDirect(cls).order(ByteOrder.nativeOrder()); // the JDK collects and retries when short
        long now = IN_USE.addAndGet(cls);
        PEAK.accumulateAndGet(now, Math::max);
        return b;
    }

    static void release(ByteBuffer b) {
        int cls = b.capacity();
        IN_USE.addAndGet(-cls);
        if (CACHED.get() + cls <= CACHE_LIMIT) {
            CACHED.addAndGet(cls);
            FREE.computeIfAbsent(cls, k -> new ConcurrentLinkedDeque<>()).addFirst(b.clear());
        }
    }
}
