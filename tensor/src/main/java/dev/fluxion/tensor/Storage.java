package dev.fluxion.tensor;

import java.nio.ByteBuffer;

/**
 * A flat block of elements of one dtype on one device; tensors are views into it. Views share their
 * storage and its version counter, which in-place writes bump so autodiff can refuse stale saved tensors.
 * {@link #close()} returns the memory at once; otherwise it returns when the storage becomes unreachable.
 */
public abstract class Storage implements AutoCloseable {
    private final DType dtype;
    private final long numel;
    private int version;

    protected Storage(DType dtype, long numel) {
        this.dtype = dtype;
        this.numel = numel;
    }

    public final DType dtype() { return dtype; }

    public final long numel() { return numel; }

    public final long nbytes() { return numel * dtype.byteSize(); }

    public abstract Device device();

    /** Copies {@code dst.remaining()} bytes starting at element {@code elementOffset} to host memory. */
    public abstract void readBytes(long elementOffset, ByteBuffer dst);

    /** Copies {@code src.remaining()} bytes from host memory to this storage at element {@code elementOffset} (callers that write into a live tensor bump the version). */
    public abstract void writeBytes(long elementOffset, ByteBuffer src);

    /**
     * This storage's own memory as a native-order buffer over all its bytes, when it lives in host memory
     * (the CPU backend) in one piece; empty for device memory and for host storage over 2 GiB (a ByteBuffer
     * holds at most 2^31-1 bytes; use readBytes/writeBytes in pieces). For zero-copy I/O such as the TCP process group's
     * collectives: a writer must bump the version, and the storage must stay open while the buffer is used.
     */
    public java.util.Optional<ByteBuffer> hostBuffer() { return java.util.Optional.empty(); }

    /**
     * Copies {@code count} elements from {@code src} (starting at element {@code srcOffset}) into this storage
     * at element {@code dstOffset}, without bumping the version (for the same reason as {@link #materialize()}:
     * FSDP refills gathered parameters the tape saved). Both storages must have this one's dtype and device.
     * Backends override it to copy on the device; this default goes through host memory.
     */
    public void copyElementsFrom(Storage src, long srcOffset, long dstOffset, long count) {
        if (src.dtype() != dtype || !src.device().equals(device()))
            throw new IllegalArgumentException("Storage.copyElementsFrom: source is " + src.dtype() + " on " + src.device()
                    + ", this storage " + dtype + " on " + device() + "; both must match");
        if (count < 0 || srcOffset < 0 || dstOffset < 0 || srcOffset + count > src.numel() || dstOffset + count > numel)
            throw new IndexOutOfBoundsException("Storage.copyElementsFrom: " + count + " elements from " + srcOffset + " of "
                    + src.numel() + " to " + dstOffset + " of " + numel + " do not fit");
        long bytes = count * dtype.byteSize();
        var host = src.hostBuffer();
        if (host.isPresent()) {
            ByteBuffer b = host.get().duplicate().order(java.nio.ByteOrder.nativeOrder());
            b.position(Math.toIntExact(srcOffset * dtype.byteSize())).limit(Math.toIntExact(srcOffset * dtype.byteSize() + bytes));
            writeBytes(dstOffset, b);
            return;
        }
        ByteBuffer staging = ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(java.nio.ByteOrder.nativeOrder());
        src.readBytes(srcOffset, staging);
        staging.flip();
        writeBytes(dstOffset, staging);
    }

    public final int version() { return version; }

    public final void bumpVersion() { version++; }

    public abstract boolean isClosed();

    /**
     * Gives this storage's memory back while keeping the storage itself: its dtype, size, version counter and
     * every tensor viewing it. FSDP frees a unit's gathered parameters after use and gathers them again before
     * backward, and the tape must accept the same tensors then. Until {@link #materialize()} every access
     * to the elements throws. A no-op when already released.
     */
    public abstract void releaseMemory();

    /**
     * Takes memory again after {@link #releaseMemory()}, with undefined contents (the caller fills it, for
     * example by an all-gather, through {@link #writeBytes} or {@link #hostBuffer}, which do not bump the
     * version). A no-op while resident.
     */
    public abstract void materialize();

    /** False between {@link #releaseMemory()} and {@link #materialize()}. */
    public abstract boolean isResident();

    @Override public abstract void close();
}
