package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Storage;
import dev.fluxion.tensor.Tensor;
import org.bytedeco.javacpp.BytePointer;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;

import static org.bytedeco.cuda.global.cudart.cuMemcpyDtoDAsync;
import static org.bytedeco.cuda.global.cudart.cuMemcpyDtoHAsync;
import static org.bytedeco.cuda.global.cudart.cuMemcpyHtoDAsync;
import static org.bytedeco.cuda.global.cudart.cuStreamSynchronize;

/**
 * Device memory for one tensor's elements, from its GPU's stream-ordered pool. {@link #close()} frees it at
 * once (ordered after the work already enqueued); an unreachable storage is freed by a Cleaner. Reading
 * values back is the one place that waits for the GPU.
 */
public final class CudaStorage extends Storage {
    private static final Cleaner CLEANER = Cleaner.create();

    /** Frees the current block exactly once, by close(), releaseMemory() or the Cleaner; holds no reference to the storage. */
    private static final class Free implements Runnable {
        private final CudaAllocator allocator;
        private final long bytes;
        private long address;      // 0 when no block is held

        Free(CudaAllocator allocator, long address, long bytes) {
            this.allocator = allocator;
            this.address = address;
            this.bytes = bytes;
        }

        /** Frees the block held now (if any) and holds next instead (0: none). */
        synchronized void swap(long next) {
            if (address != 0) allocator.free(address, bytes);
            address = next;
        }

        @Override public void run() { swap(0); }
    }

    private final CudaDevice device;
    private final Free free;
    private final Cleaner.Cleanable cleanable;
    private volatile long address;          // 0 while released (or for an empty storage)
    private volatile boolean resident = true;
    private volatile boolean closed;

    CudaStorage(CudaDevice device, DType dtype, long numel) {
        super(dtype, numel);
        this.device = device;
        long bytes = nbytes();
        this.address = bytes == 0 ? 0 : device.allocator.allocate(bytes);
        this.free = new Free(device.allocator, address, bytes);
        this.cleanable = CLEANER.register(this, free);
    }

    /** The CUDA storage behind t, or an error naming the op's expectation. */
    static CudaStorage of(Tensor t) {
        if (t.storage() instanceof CudaStorage s) return s;
        throw new IllegalArgumentException("cuda: expected a tensor on a CUDA device, got one on " + t.device());
    }

    @Override public Device device() { return device.device; }

    /** The device address of element 0. */
    public long address() {
        if (closed) throw new IllegalStateException("tensor storage (" + dtype() + ", " + numel() + " elements on " + device + ") was used after close()");
        if (!resident)
            throw new IllegalStateException("tensor storage (" + dtype() + ", " + numel() + " elements on " + device + ") has released its memory "
                    + "(Storage.releaseMemory(), as FSDP does with gathered parameters); call materialize() and fill it before use");
        return address;
    }

    @Override public boolean isClosed() { return closed; }

    @Override public void releaseMemory() {
        address();                                    // refuses a closed storage
        resident = false;
        address = 0;
        free.swap(0);                                 // stream-ordered: work already enqueued on the block finishes first
    }

    @Override public void materialize() {
        if (closed) address();
        if (resident) return;
        long bytes = nbytes();
        long next = bytes == 0 ? 0 : device.allocator.allocate(bytes);
        free.swap(next);
        address = next;
        resident = true;
    }

    @Override public boolean isResident() { return resident; }

    @Override public void close() {
        closed = true;
        cleanable.clean();
    }

    @Override public void readBytes(long elementOffset, ByteBuffer dst) {
        int n = dst.remaining();
        long src = address() + elementOffset * dtype().byteSize();
        device.makeCurrent();
        if (n > 0) {
            if (dst.isDirect()) {
                Cuda.check(cuMemcpyDtoHAsync(new BytePointer(dst), src, n, device.stream), "cuMemcpyDtoHAsync");
                Cuda.check(cuStreamSynchronize(device.stream), "cuStreamSynchronize(" + device + ")");
                dst.position(dst.position() + n);
            } else {
                try (BytePointer staging = new BytePointer(n)) {
                    Cuda.check(cuMemcpyDtoHAsync(staging, src, n, device.stream), "cuMemcpyDtoHAsync");
                    Cuda.check(cuStreamSynchronize(device.stream), "cuStreamSynchronize(" + device + ")");
                    dst.put(staging.asByteBuffer());
                }
            }
        } else {
            Cuda.check(cuStreamSynchronize(device.stream), "cuStreamSynchronize(" + device + ")");
        }
        device.errors.throwIfAny();
    }

    @Override public void writeBytes(long elementOffset, ByteBuffer src) {
        int n = src.remaining();
        if (n == 0) return;
        long dst = address() + elementOffset * dtype().byteSize();
        device.makeCurrent();
        if (src.isDirect()) {
            // from pageable memory the driver stages the bytes before it returns, so src may change afterwards
            Cuda.check(cuMemcpyHtoDAsync(dst, new BytePointer(src), n, device.stream), "cuMemcpyHtoDAsync");
            src.position(src.position() + n);
        } else {
            try (BytePointer staging = new BytePointer(n)) {
                staging.asByteBuffer().put(src);
                Cuda.check(cuMemcpyHtoDAsync(dst, staging, n, device.stream), "cuMemcpyHtoDAsync");
            }
        }
    }

    /** Device to device on this device's stream: FSDP's re-gather never leaves the GPU. */
    @Override public void copyElementsFrom(Storage src, long srcOffset, long dstOffset, long count) {
        if (!(src instanceof CudaStorage from) || from.device != device || src.dtype() != dtype()) {
            super.copyElementsFrom(src, srcOffset, dstOffset, count);   // its checks name the mismatch
            return;
        }
        if (count < 0 || srcOffset < 0 || dstOffset < 0 || srcOffset + count > src.numel() || dstOffset + count > numel())
            throw new IndexOutOfBoundsException("CudaStorage.copyElementsFrom: " + count + " elements from " + srcOffset + " of "
                    + src.numel() + " to " + dstOffset + " of " + numel() + " do not fit");
        if (count == 0) return;
        long size = dtype().byteSize();
        device.makeCurrent();
        Cuda.check(cuMemcpyDtoDAsync(address() + dstOffset * size, from.address() + srcOffset * size, count * size, device.stream), "cuMemcpyDtoDAsync");
    }
}
