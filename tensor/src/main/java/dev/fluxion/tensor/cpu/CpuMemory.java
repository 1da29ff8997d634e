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
 * Storages above the largest class ({@link #MAX_POOLED}, 1 GiB) are rare and would take most of the cache:
 * their buffers are allocated exactly and never cached ({@link #acquireExact}).
 */
public final class CpuMemory {
    private static final long CACHE_LIMIT = Long.getLong("fluxion.cpu.cacheBytes", 2L << 30);
    private static final ConcurrentHashMap<Integer, ConcurrentLinkedDeque<ByteBuffer>> FREE = new ConcurrentHashMap<>();
    private static final AtomicLong IN_USE = new AtomicLong();
    private static final AtomicLong PEAK = new AtomicLong();
    private static final AtomicLong CACHED = new AtomicLong();

    /** The largest size class: storages of more bytes bypass the pool. */
    static final long MAX_POOLED = 1L << 30;

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
        if (bytes > MAX_POOLED)
            throw new IllegalArgumentException("CpuMemory: " + bytes + " bytes is above the largest size class (" + MAX_POOLED + "); use acquireExact");
        if (bytes <= 512) return 512;
        long p = Long.highestOneBit(bytes - 1);             // the power of two just below
        long step = Math.max(p / 8, 512);
        long rounded = (bytes + step - 1) / step * step;
        return (int) rounded;                               // <= MAX_POOLED: a power of two rounds to itself
    }

    /** A buffer of at least {@code bytes} (at most {@link #MAX_POOLED}) bytes, native byte order; contents undefined. */
    static ByteBuffer acquire(long bytes) {
        int cls = sizeClass(bytes);
        ConcurrentLinkedDeque<ByteBuffer> list = FREE.get(cls);
        ByteBuffer b = list == null ? null : list.pollFirst();
        if (b != null) CACHED.addAndGet(-cls);
        else b = allocate(cls);
        count(cls);
        return b;
    }

    /**
     * A buffer of exactly {@code bytes} bytes that the pool never caches: give it back with
     * {@link #releaseExact}, which only drops it (the JDK frees it when it is collected).
     */
    static ByteBuffer acquireExact(int bytes) {
        ByteBuffer b = allocate(bytes);
        count(bytes);
        return b;
    }

    static void releaseExact(ByteBuffer b) { IN_USE.addAndGet(-b.capacity()); }

    private static void count(long bytes) {
        long now = IN_USE.addAndGet(bytes);
        PEAK.accumulateAndGet(now, Math::max);
    }

    /** A fresh buffer. The JDK collects and retries when direct memory runs short; if that is not enough, the cache goes too. */
    private static ByteBuffer allocate(int bytes) {
        try {
            return ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        } catch (OutOfMemoryError e) {
            if (CACHED.get() == 0) throw e;
            emptyCache();
            return ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        }
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
