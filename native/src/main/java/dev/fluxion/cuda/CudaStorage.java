package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Storage;
import dev.fluxion.tensor.Tensor;
import org.bytedeco.javacpp.BytePointer;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;

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

    /** Frees the block exactly once, by close() or by the Cleaner; holds no reference to the storage. */
    private static final class Free implements Runnable {
        private final CudaAllocator allocator;
        private final long address, bytes;
        private boolean done;

        Free(CudaAllocator allocator, long address, long bytes) {
            this.allocator = allocator;
            this.address = address;
            this.bytes = bytes;
        }

        @Override public synchronized void run() {
            if (done || address == 0) return;
            done = true;
            allocator.free(address, bytes);
        }
    }

    private final CudaDevice device;
    private final long address;
    private final Cleaner.Cleanable cleanable;
    private volatile boolean closed;

    CudaStorage(CudaDevice device, DType dtype, long numel) {
        super(dtype, numel);
        this.device = device;
        long bytes = nbytes();
        this.address = bytes == 0 ? 0 : device.allocator.allocate(bytes);
        this.cleanable = CLEANER.register(this, new Free(device.allocator, address, bytes));
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
        return address;
    }

    @Override public boolean isClosed() { return closed; }

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
}
