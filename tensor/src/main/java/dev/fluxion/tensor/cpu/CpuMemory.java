package dev.fluxion.tensor.cpu;

import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A caching pool of off-heap buffers for CPU tensors. Fresh pages cost ~2 ms per MiB to touch on the
 * machines we target, so an out-of-place op that reuses a freed buffer runs at in-place speed. Buffers
 * come back through {@code Tensor.close()}, a closed scope, or, for a storage that became unreachable
 * without being closed, through this pool's reference queue. Sizes are rounded up to classes (powers of
 * two split in eight) so that buffers are reusable across slightly different shapes; at most
 * {@code fluxion.cpu.cacheBytes} (default 2 GiB) is kept cached.
 *
 * <p>A loop that never opens a scope (as a PyTorch user writes it) leaves its temporaries to the garbage
 * collector, which does not run for off-heap memory it cannot see: the heap stays small while gigabytes of
 * buffers wait. So before the pool grows past {@code reclaimAt}, it runs a collection and takes back every
 * storage that became unreachable; {@code reclaimAt} is then set to what is still in use plus a headroom
 * (half of that, at least {@code fluxion.cpu.reclaimHeadroomBytes}, default 64 MiB). Memory of an
 * unscoped loop thus stays within about 1.5x of what it really uses.
 *
 * <p>Storages above the largest class ({@link #MAX_POOLED}, 1 GiB) are rare and would take most of the
 * cache: their buffers are allocated exactly and never cached ({@link #acquireExact}).
 */
public final class CpuMemory {
    private static final long CACHE_LIMIT = Long.getLong("fluxion.cpu.cacheBytes", 2L << 30);
    private static final long HEADROOM = Long.getLong("fluxion.cpu.reclaimHeadroomBytes", 64L << 20);
    private static final ConcurrentHashMap<Integer, ConcurrentLinkedDeque<ByteBuffer>> FREE = new ConcurrentHashMap<>();
    private static final AtomicLong IN_USE = new AtomicLong();
    private static final AtomicLong PEAK = new AtomicLong();
    private static final AtomicLong CACHED = new AtomicLong();
    private static final AtomicLong RECLAIMED = new AtomicLong();     // buffers taken back from unreachable storages
    private static final AtomicLong COLLECTIONS = new AtomicLong();   // collections this pool asked for
    private static volatile long reclaimAt = HEADROOM;

    /** Storages that became unreachable while holding a buffer arrive here. */
    private static final ReferenceQueue<Object> UNREACHABLE = new ReferenceQueue<>();
    /** Keeps every live handle reachable, so that the JVM enqueues it when its owner dies. */
    private static final Set<Handle> LIVE = ConcurrentHashMap.newKeySet();

    /** The largest size class: storages of more bytes bypass the pool. */
    static final long MAX_POOLED = 1L << 30;

    private CpuMemory() {}

    /**
     * Statistics in bytes: what live storages hold, the highest that has been, what is cached for reuse;
     * how many buffers were taken back from storages that became unreachable without being closed, and how
     * many collections the pool asked for to find them.
     */
    public record Stats(long inUse, long peak, long cached, long reclaimed, long collections) {}

    public static Stats stats() {
        return new Stats(IN_USE.get(), PEAK.get(), CACHED.get(), RECLAIMED.get(), COLLECTIONS.get());
    }

    /** Forgets the peak (sets it to what is in use now), so that a benchmark or test can measure a phase. */
    public static void resetPeak() { PEAK.set(IN_USE.get()); }

    /** Drops every cached buffer (the JVM frees them when they are collected). */
    public static void emptyCache() {
        FREE.values().forEach(ConcurrentLinkedDeque::clear);
        CACHED.set(0);
    }

    /**
     * The buffers of one storage (one, or the chunks of a storage over 2 GiB), returned exactly once: by
     * {@link #dispose()} (close), or when the storage becomes unreachable and the pool finds the handle on
     * its queue; to the pool, or dropped when they were allocated exactly. It holds no reference to the
     * storage. {@link #swap} supports storages that release and re-materialize their memory.
     */
    static final class Handle extends PhantomReference<Object> {
        private final boolean pooled;
        private ByteBuffer[] buffers;

        Handle(Object owner, ByteBuffer[] buffers, boolean pooled) {
            super(owner, UNREACHABLE);
            this.buffers = buffers.clone();
            this.pooled = pooled;
            LIVE.add(this);
        }

        /** Returns the current buffers (if any) and holds next instead (null: none). */
        synchronized void swap(ByteBuffer[] next) {
            if (buffers != null)
                for (ByteBuffer b : buffers) { if (pooled) release(b); else releaseExact(b); }
            buffers = next == null ? null : next.clone();
        }

        /** Returns the buffer for good. */
        void dispose() {
            swap(null);
            LIVE.remove(this);
            clear();
        }
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

    /**
     * A buffer of exactly {@code bytes} bytes that the pool never caches: give it back with
     * {@link #releaseExact}, which only drops it (the JDK frees it when it is collected).
     */
    static ByteBuffer acquireExact(int bytes) {
        drainUnreachable();
        if (IN_USE.get() + bytes > reclaimAt) reclaimUnreachable();
        ByteBuffer b = allocateFresh(bytes);
        ACQUIRED.increment();
        long now = IN_USE.addAndGet(bytes);
        PEAK.accumulateAndGet(now, Math::max);
        return b;
    }

    private static final java.util.concurrent.atomic.LongAdder ACQUIRED = new java.util.concurrent.atomic.LongAdder();

    /** How many buffers storages have taken so far (pooled or not): one per tensor that got its own memory. */
    public static long acquired() { return ACQUIRED.sum(); }

    static void releaseExact(ByteBuffer b) { IN_USE.addAndGet(-b.capacity()); }

    /** A buffer of at least {@code bytes} (at most {@link #MAX_POOLED}) bytes, native byte order; contents undefined. */
    static ByteBuffer acquire(long bytes) {
        int cls = sizeClass(bytes);
        drainUnreachable();
        ByteBuffer b = pollCached(cls);
        if (b == null && IN_USE.get() + cls > reclaimAt) {
            reclaimUnreachable();
            b = pollCached(cls);
        }
        if (b == null) b = allocateFresh(cls);
        ACQUIRED.increment();
        long now = IN_USE.addAndGet(cls);
        PEAK.accumulateAndGet(now, Math::max);
        return b;
    }

    private static ByteBuffer pollCached(int cls) {
        ConcurrentLinkedDeque<ByteBuffer> list = FREE.get(cls);
        ByteBuffer b = list == null ? null : list.pollFirst();
        if (b != null) CACHED.addAndGet(-cls);
        return b;
    }

    /** Where every tensor buffer starts: a multiple of this many bytes (a cache line, and one AVX-512 vector). */
    static final int ALIGNMENT = 64;

    /**
     * A direct buffer of exactly {@code bytes} bytes whose first byte lies on a {@link #ALIGNMENT} boundary.
     * allocateDirect's memory comes from malloc, 16 bytes past a page start for large sizes, so every 64-byte
     * vector the kernels and OpenBLAS's packing read or write would straddle two cache lines (PyTorch's CPU
     * allocator aligns to 64 bytes for the same reason). The slice keeps the whole allocation alive.
     */
    static ByteBuffer allocateAligned(int bytes) {
        ByteBuffer raw = ByteBuffer.allocateDirect(bytes + ALIGNMENT - 1);
        int skip = (ALIGNMENT - raw.alignmentOffset(0, ALIGNMENT)) % ALIGNMENT;
        return raw.position(skip).limit(skip + bytes).slice().order(ByteOrder.nativeOrder());
    }

    private static ByteBuffer allocateFresh(int cls) {
        try {
            return allocateAligned(cls);
        } catch (OutOfMemoryError first) {
            // the JDK's own retry cannot see our unreachable storages (this pool holds their buffers): find them,
            // drop the cache so the JDK can free those buffers, and try once more
            reclaimUnreachable();
            emptyCache();
            System.gc();
            try {
                return allocateAligned(cls);
            } catch (OutOfMemoryError second) {
                OutOfMemoryError e = new OutOfMemoryError("CPU tensor memory: cannot allocate " + cls + " bytes with " + IN_USE.get()
                        + " bytes in use by live tensors (raise -XX:MaxDirectMemorySize, or free tensors with close() or a Scope)");
                e.initCause(second);
                throw e;
            }
        }
    }

    /** Takes back the buffers of storages already found unreachable (cheap: a poll of the queue). */
    private static void drainUnreachable() {
        boolean any = false;
        for (Object r; (r = UNREACHABLE.poll()) != null; ) {
            if (r instanceof Handle h) {
                h.dispose();
                RECLAIMED.incrementAndGet();
                any = true;
            }
        }
        // storages found after the last collection's wait ended were counted as live when it set the threshold
        if (any) reclaimAt = Math.min(reclaimAt, nextThreshold(IN_USE.get()));
    }

    private static long nextThreshold(long live) { return live + Math.max(HEADROOM, live / 2); }

    /**
     * Runs a collection now and takes back the memory of every storage that is unreachable (the pool does
     * this by itself before it grows; tests and benchmarks call it to measure what is really in use).
     */
    public static void reclaim() { reclaim(true); }

    private static void reclaimUnreachable() { reclaim(false); }

    /** Runs a collection, takes back every storage it found unreachable, and sets the next threshold. */
    private static synchronized void reclaim(boolean always) {
        if (!always && IN_USE.get() <= reclaimAt) {          // another thread reclaimed while this one waited
            drainUnreachable();
            return;
        }
        COLLECTIONS.incrementAndGet();
        // A sentinel that dies in the same collection: the JVM's reference handler enqueues everything that
        // collection found in one batch, so once the sentinel arrives the batch is (nearly) all there.
        PhantomReference<Object> sentinel = new PhantomReference<>(new Object(), UNREACHABLE);
        System.gc();
        try {
            boolean sentinelSeen = false;
            long deadline = System.nanoTime() + 2_000_000_000L;
            while (System.nanoTime() < deadline) {
                Object r = UNREACHABLE.remove(sentinelSeen ? 10 : 100);
                if (r == null) {
                    if (sentinelSeen) break;                  // the batch is drained: nothing arrived for 10 ms
                    continue;
                }
                if (r == sentinel) sentinelSeen = true;
                else if (r instanceof Handle h) {
                    h.dispose();
                    RECLAIMED.incrementAndGet();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        java.lang.ref.Reference.reachabilityFence(sentinel);
        reclaimAt = nextThreshold(IN_USE.get());
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
