package dev.fluxion.cuda;

import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static org.bytedeco.cuda.global.cudart.CUDA_ERROR_NOT_READY;
import static org.bytedeco.cuda.global.cudart.CU_EVENT_DISABLE_TIMING;
import static org.bytedeco.cuda.global.cudart.cuEventCreate;
import static org.bytedeco.cuda.global.cudart.cuEventDestroy;
import static org.bytedeco.cuda.global.cudart.cuEventQuery;
import static org.bytedeco.cuda.global.cudart.cuEventRecord;
import static org.bytedeco.cuda.global.cudart.cuMemAllocHost;
import static org.bytedeco.cuda.global.cudart.cuMemFreeHost;
import static org.bytedeco.cuda.global.cudart.cuMemcpyHtoDAsync;

/**
 * Host-to-device uploads with a stream-ordered lifetime for the host bytes. The bytes are copied into a pinned
 * buffer, the copy is enqueued on the device's stream, and an event is recorded behind it; the buffer is reused
 * or freed only after that event has fired (checked at the next upload). So an upload never waits for the GPU,
 * and the GPU never reads host memory that was freed or changed after the call returned: a staging buffer
 * freed right after {@code cuMemcpyHtoDAsync} relies on the driver having copied pageable memory before it
 * returns, which CUDA documents only loosely (and not at all for pinned memory).
 */
final class HostStaging {
    /** Pinned buffers kept for reuse once their copies finished (bounded: larger or further ones are freed). */
    private static final int CACHED = 8;
    private static final long CACHED_MAX_BYTES = 16L << 20;

    private record Buffer(Pointer host, long capacity) {}

    private record InFlight(Buffer buffer, CUevent_st done) {}

    private final CudaDevice device;
    private final ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
    private final List<Buffer> free = new ArrayList<>();
    private long uploads;

    HostStaging(CudaDevice device) { this.device = device; }

    /** Enqueues the copy of src's remaining bytes to the device address dst, and consumes them from src. */
    synchronized void upload(long dst, ByteBuffer src) {
        int n = src.remaining();
        if (n == 0) return;
        uploads++;
        device.makeCurrent();
        reclaim();
        Buffer b = take(n);
        new BytePointer(b.host()).capacity(n).asByteBuffer().put(src);
        Cuda.check(cuMemcpyHtoDAsync(dst, b.host(), n, device.stream), "cuMemcpyHtoDAsync(" + n + " bytes to " + device + ")");
        CUevent_st done = new CUevent_st();
        Cuda.check(cuEventCreate(done, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
        Cuda.check(cuEventRecord(done, device.stream), "cuEventRecord(after an upload)");
        inFlight.add(new InFlight(b, done));
    }

    /** How many host-to-device copies this device has enqueued (tests count them around code that should make none). */
    synchronized long uploads() { return uploads; }

    /** How many staging buffers still wait for their copies (for tests). */
    synchronized int inFlight() {
        reclaim();
        return inFlight.size();
    }

    /** Moves the buffers whose copies finished (in stream order) to the free list. */
    private void reclaim() {
        for (Iterator<InFlight> it = inFlight.iterator(); it.hasNext(); ) {
            InFlight f = it.next();
            int q = cuEventQuery(f.done());
            if (q == CUDA_ERROR_NOT_READY) return;                 // later ones were enqueued after it
            Cuda.check(q, "cuEventQuery(upload) on " + device);
            cuEventDestroy(f.done());
            it.remove();
            give(f.buffer());
        }
    }

    private Buffer take(long n) {
        Buffer best = null;
        for (Buffer b : free) if (b.capacity() >= n && (best == null || b.capacity() < best.capacity())) best = b;
        if (best != null) { free.remove(best); return best; }
        Pointer p = new Pointer();
        long capacity = Math.max(n, 4096);
        Cuda.check(cuMemAllocHost(p, capacity), "cuMemAllocHost(" + capacity + " bytes of pinned staging memory)");
        return new Buffer(p, capacity);
    }

    private void give(Buffer b) {
        if (b.capacity() <= CACHED_MAX_BYTES && free.size() < CACHED) free.add(b);
        else cuMemFreeHost(b.host());
    }
}
