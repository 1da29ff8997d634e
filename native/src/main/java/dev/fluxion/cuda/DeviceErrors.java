package dev.fluxion.cuda;

import org.bytedeco.javacpp.BytePointer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.bytedeco.cuda.global.cudart.cuMemAlloc;
import static org.bytedeco.cuda.global.cudart.cuMemcpyDtoH;
import static org.bytedeco.cuda.global.cudart.cuMemsetD8Async;

/**
 * Errors found inside kernels (an index out of range), reported without a synchronisation per op: a kernel
 * records the first error in a small device block ({@code struct ErrorRecord} in common.cuh: int code, int dim,
 * long value, long size) and skips the element; the host copies the block back whenever it synchronises
 * anyway (reading values) and throws there. The block lives in device memory, not in host-mapped memory,
 * because device atomics on host memory depend on PCIe atomics support.
 */
final class DeviceErrors {
    private static final String[] OPS = {"", "indexSelect", "gather", "scatterAdd", "embeddingBackward", "crossEntropy"};
    private static final int BYTES = 32;

    private final CudaDevice device;
    private final long address;
    private final BytePointer host = new BytePointer(BYTES);
    private final ByteBuffer record = host.asByteBuffer().order(ByteOrder.nativeOrder());

    DeviceErrors(CudaDevice device) {
        this.device = device;
        long[] p = new long[1];
        Cuda.check(cuMemAlloc(p, BYTES), "cuMemAlloc(error record) on " + device);   // held for the life of the device
        this.address = p[0];
        // on the device's stream (a non-blocking one, not ordered with the legacy stream a plain cuMemsetD8 uses),
        // so the first kernel that may record an error runs after the clear
        Cuda.check(cuMemsetD8Async(address, (byte) 0, BYTES, device.stream), "cuMemsetD8Async(error record)");
    }

    /** The ErrorRecord* kernels receive. */
    long address() { return address; }

    /** Throws (and clears) the error a kernel recorded; call after the device's stream was synchronised. */
    void throwIfAny() {
        device.makeCurrent();
        Cuda.check(cuMemcpyDtoH(host, address, BYTES), "cuMemcpyDtoH(error record)");
        int code = record.getInt(0);
        if (code == 0) return;
        int dim = record.getInt(4);
        long value = record.getLong(8), size = record.getLong(16);
        Cuda.check(cuMemsetD8Async(address, (byte) 0, BYTES, device.stream), "cuMemsetD8Async(error record)");
        String op = code > 0 && code < OPS.length ? OPS[code] : "kernel";
        throw new IndexOutOfBoundsException(op + ": index " + value + " is out of range for dim " + dim + " of size " + size
                + " (found on " + device + " by a kernel enqueued earlier; CUDA ops report bad indices at the next synchronisation)");
    }
}
