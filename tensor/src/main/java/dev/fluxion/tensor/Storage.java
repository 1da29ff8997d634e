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

    public final int version() { return version; }

    public final void bumpVersion() { version++; }

    public abstract boolean isClosed();

    @Override public abstract void close();
}
