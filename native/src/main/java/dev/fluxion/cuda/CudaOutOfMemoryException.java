package dev.fluxion.cuda;

/**
 * Device memory ran out even after unreachable tensors were collected and freed. The message gives the
 * bytes requested and the pool's state (in use by tensors, reserved by the pool, free on the device).
 */
public final class CudaOutOfMemoryException extends CudaException {
    private final long requested;
    private final MemoryStats stats;

    CudaOutOfMemoryException(String message, int code, long requested, MemoryStats stats) {
        super(message, code);
        this.requested = requested;
        this.stats = stats;
    }

    public long requestedBytes() { return requested; }

    public MemoryStats stats() { return stats; }
}
