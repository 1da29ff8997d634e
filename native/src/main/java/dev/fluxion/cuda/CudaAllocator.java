package dev.fluxion.cuda;

import org.bytedeco.cuda.cudart.CUmemPoolHandle_st;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.SizeTPointer;

import java.util.concurrent.atomic.AtomicLong;

import static org.bytedeco.cuda.global.cudart.CUDA_ERROR_OUT_OF_MEMORY;
import static org.bytedeco.cuda.global.cudart.CU_MEMPOOL_ATTR_RELEASE_THRESHOLD;
import static org.bytedeco.cuda.global.cudart.CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT;
import static org.bytedeco.cuda.global.cudart.cuDeviceGetDefaultMemPool;
import static org.bytedeco.cuda.global.cudart.cuMemAllocAsync;
import static org.bytedeco.cuda.global.cudart.cuMemFreeAsync;
import static org.bytedeco.cuda.global.cudart.cuMemGetInfo;
import static org.bytedeco.cuda.global.cudart.cuMemPoolGetAttribute;
import static org.bytedeco.cuda.global.cudart.cuMemPoolSetAttribute;
import static org.bytedeco.cuda.global.cudart.cuMemPoolTrimTo;
import static org.bytedeco.cuda.global.cudart.cuStreamSynchronize;

/**
 * Device memory for one GPU from the driver's stream-ordered pool (cuMemAllocAsync / cuMemFreeAsync on the
 * device's stream). The pool's release threshold is raised so that freed blocks stay cached for reuse
 * instead of going back to the driver at every synchronisation ({@code fluxion.cuda.poolReleaseBytes},
 * default: keep everything). An allocation that fails first collects unreachable tensors (their Cleaners
 * free their blocks) and retries; only then does it throw {@link CudaOutOfMemoryException}.
 */
final class CudaAllocator {
    private static final long RELEASE_THRESHOLD = Long.getLong("fluxion.cuda.poolReleaseBytes", -1L); // -1 = UINT64_MAX

    private final CudaDevice device;
    private final CUmemPoolHandle_st pool = new CUmemPoolHandle_st();
    private final AtomicLong inUse = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();
    private final AtomicLong live = new AtomicLong();

    CudaAllocator(CudaDevice device) {
        this.device = device;
        Cuda.check(cuDeviceGetDefaultMemPool(pool, device.handle), "cuDeviceGetDefaultMemPool(" + device + ")");
        try (LongPointer threshold = new LongPointer(1)) {
            threshold.put(RELEASE_THRESHOLD);
            Cuda.check(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, threshold), "cuMemPoolSetAttribute(release threshold)");
        }
    }

    /** A block of at least bytes (> 0), ordered on the device's stream. */
    long allocate(long bytes) {
        device.makeCurrent();
        long[] out = new long[1];
        int r = cuMemAllocAsync(out, bytes, device.stream);
        for (int attempt = 0; r == CUDA_ERROR_OUT_OF_MEMORY && attempt < 2; attempt++) {
            collectUnreachable(attempt);
            device.makeCurrent();
            r = cuMemAllocAsync(out, bytes, device.stream);
        }
        if (r == CUDA_ERROR_OUT_OF_MEMORY) {
            MemoryStats s = stats();
            throw new CudaOutOfMemoryException(device + " is out of memory: allocating " + MemoryStats.human(bytes) + " (" + bytes + " bytes) failed after "
                    + "freeing unreachable tensors; " + s + ". Close tensors you no longer need (or open a Scope per step), or use smaller batches",
                    r, bytes, s);
        }
        Cuda.check(r, "cuMemAllocAsync(" + bytes + " bytes) on " + device);
        long now = inUse.addAndGet(bytes);
        peak.accumulateAndGet(now, Math::max);
        live.incrementAndGet();
        return out[0];
    }

    /** Lets the Cleaner free what the program dropped; the second attempt also waits for the stream. */
    private void collectUnreachable(int attempt) {
        System.gc();
        try {
            Thread.sleep(attempt == 0 ? 20 : 200);   // Cleaner actions run on their own thread
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (attempt > 0) {
            device.makeCurrent();
            cuStreamSynchronize(device.stream);
        }
    }

    /** Returns a block to the pool, ordered after all work already enqueued on the stream. Never throws. */
    void free(long address, long bytes) {
        try {
            device.makeCurrent();
            cuMemFreeAsync(address, device.stream);
        } catch (RuntimeException | LinkageError e) {
            return;   // the context is gone (JVM shutdown): the driver reclaims everything anyway
        }
        inUse.addAndGet(-bytes);
        live.decrementAndGet();
    }

    MemoryStats stats() {
        long reserved = -1, free = -1, total = -1;
        try (LongPointer v = new LongPointer(1); SizeTPointer f = new SizeTPointer(1); SizeTPointer t = new SizeTPointer(1)) {
            device.makeCurrent();
            if (cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, v) == Cuda.SUCCESS) reserved = v.get();
            if (cuMemGetInfo(f, t) == Cuda.SUCCESS) { free = f.get(); total = t.get(); }
        }
        return new MemoryStats(inUse.get(), peak.get(), reserved, live.get(), free, total);
    }

    void resetPeak() { peak.set(inUse.get()); }

    /** Waits for the stream and returns cached blocks to the driver. */
    void emptyCache() {
        device.makeCurrent();
        Cuda.check(cuStreamSynchronize(device.stream), "cuStreamSynchronize");
        Cuda.check(cuMemPoolTrimTo(pool, 0), "cuMemPoolTrimTo");
    }
}
