package dev.fluxion.cuda;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.bytedeco.cuda.global.cudart.CU_MEMHOSTALLOC_DEVICEMAP;
import static org.bytedeco.cuda.global.cudart.CU_MEMHOSTALLOC_PORTABLE;
import static org.bytedeco.cuda.global.cudart.cuMemHostAlloc;
import static org.bytedeco.cuda.global.cudart.cuMemHostGetDevicePointer;

/**
 * Errors found inside kernels (an index out of range), reported without a synchronisation per op: a
 * kernel writes the first error into a small block of host-mapped pinned memory ({@code struct ErrorRecord}
 * in common.cuh: int code, int dim, long value, long size) and skips the element; the host reads the
 * block whenever it synchronises anyway (reading values back) and throws there.
 */
final class DeviceErrors {
    private static final String[] OPS = {"", "indexSelect", "gather", "scatterAdd", "embeddingBackward", "crossEntropy"};

    private final String device;
    private final ByteBuffer record;
    private final long deviceAddress;

    DeviceErrors(String device) {
        this.device = device;
        Pointer host = new Pointer();
        Cuda.check(cuMemHostAlloc(host, 32, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE), "cuMemHostAlloc(error record)");
        this.record = new BytePointer(host).capacity(32).asByteBuffer().order(ByteOrder.nativeOrder());
        for (int i = 0; i < 32; i++) record.put(i, (byte) 0);
        long[] d = new long[1];
        Cuda.check(cuMemHostGetDevicePointer(d, host, 0), "cuMemHostGetDevicePointer(error record)");
        this.deviceAddress = d[0];
    }

    /** The ErrorRecord* kernels receive. */
    long address() { return deviceAddress; }

    /** Throws (and clears) the error a kernel recorded; call after a stream synchronisation. */
    void throwIfAny() {
        int code = record.getInt(0);
        if (code == 0) return;
        int dim = record.getInt(4);
        long value = record.getLong(8), size = record.getLong(16);
        record.putInt(0, 0);
        String op = code > 0 && code < OPS.length ? OPS[code] : "kernel";
        throw new IndexOutOfBoundsException(op + ": index " + value + " is out of range for dim " + dim + " of size " + size
                + " (found on " + device + " by a kernel enqueued earlier; CUDA ops report bad indices at the next synchronisation)");
    }
}
