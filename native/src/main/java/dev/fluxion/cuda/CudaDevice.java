package dev.fluxion.cuda;

import dev.fluxion.tensor.Device;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.SizeTPointer;

import static org.bytedeco.cuda.global.cudart.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR;
import static org.bytedeco.cuda.global.cudart.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR;
import static org.bytedeco.cuda.global.cudart.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT;
import static org.bytedeco.cuda.global.cudart.CU_STREAM_NON_BLOCKING;
import static org.bytedeco.cuda.global.cudart.cuCtxSetCurrent;
import static org.bytedeco.cuda.global.cudart.cuDeviceGet;
import static org.bytedeco.cuda.global.cudart.cuDeviceGetAttribute;
import static org.bytedeco.cuda.global.cudart.cuDeviceGetName;
import static org.bytedeco.cuda.global.cudart.cuDevicePrimaryCtxRetain;
import static org.bytedeco.cuda.global.cudart.cuDeviceTotalMem;
import static org.bytedeco.cuda.global.cudart.cuStreamCreate;
import static org.bytedeco.cuda.global.cudart.cuStreamSynchronize;

/**
 * One GPU as the backend uses it: its primary context (shared with the CUDA runtime, cuBLAS and NCCL), the
 * stream every op of its tensors is enqueued on, the loaded kernels, the memory pool, the error record and the
 * pinned staging buffers of uploads.
 */
final class CudaDevice {
    final int ordinal;
    final int handle;
    final Device device;
    final String name;
    final int major, minor, multiprocessors;
    final long totalMemory;
    final CUctx_st context = new CUctx_st();
    final CUstream_st stream = new CUstream_st();
    final Kernels kernels;
    final CudaAllocator allocator;
    final DeviceErrors errors;
    final HostStaging staging;
    private volatile CudaBlas blas;
    private volatile Cudnn cudnn;
    private volatile boolean cudnnTried;
    private final java.util.concurrent.atomic.AtomicLong hostSyncs = new java.util.concurrent.atomic.AtomicLong();

    /** Static facts about a GPU, readable without creating a context (for the environment check). */
    record Info(int ordinal, String name, int major, int minor, int multiprocessors, long totalMemory) {}

    static Info info(int ordinal) {
        int[] h = new int[1];
        Cuda.check(cuDeviceGet(h, ordinal), "cuDeviceGet(" + ordinal + ")");
        byte[] name = new byte[256];
        Cuda.check(cuDeviceGetName(name, name.length, h[0]), "cuDeviceGetName");
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        int[] a = new int[1];
        Cuda.check(cuDeviceGetAttribute(a, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, h[0]), "cuDeviceGetAttribute");
        int major = a[0];
        Cuda.check(cuDeviceGetAttribute(a, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, h[0]), "cuDeviceGetAttribute");
        int minor = a[0];
        Cuda.check(cuDeviceGetAttribute(a, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, h[0]), "cuDeviceGetAttribute");
        int sms = a[0];
        long total;
        try (SizeTPointer t = new SizeTPointer(1)) {
            Cuda.check(cuDeviceTotalMem(t, h[0]), "cuDeviceTotalMem");
            total = t.get();
        }
        return new Info(ordinal, new String(name, 0, len, java.nio.charset.StandardCharsets.UTF_8), major, minor, sms, total);
    }

    CudaDevice(int ordinal, byte[] fatbin) {
        Info info = info(ordinal);
        int[] h = new int[1];
        Cuda.check(cuDeviceGet(h, ordinal), "cuDeviceGet(" + ordinal + ")");
        this.ordinal = ordinal;
        this.handle = h[0];
        this.device = Device.cuda(ordinal);
        this.name = info.name();
        this.major = info.major();
        this.minor = info.minor();
        this.multiprocessors = info.multiprocessors();
        this.totalMemory = info.totalMemory();
        Cuda.check(cuDevicePrimaryCtxRetain(context, handle), "cuDevicePrimaryCtxRetain(" + device + ")");
        makeCurrent();
        Cuda.check(cuStreamCreate(stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate(" + device + ")");
        this.kernels = new Kernels(this, fatbin);
        this.allocator = new CudaAllocator(this);
        this.staging = new HostStaging(this);
        this.errors = new DeviceErrors(this);
    }

    /** Makes this GPU's context current on the calling thread (cheap; every entry point calls it). */
    void makeCurrent() {
        Cuda.check(cuCtxSetCurrent(context), "cuCtxSetCurrent(" + device + ")");
    }

    /** The cuBLAS handles, created on first use; null when cuBLAS is not available on this host. */
    CudaBlas blas() {
        CudaBlas b = blas;
        if (b == null && CudaBlas.unavailableReason() == null) {
            synchronized (this) {
                if (blas == null) blas = CudaBlas.create(this);
                b = blas;
            }
        }
        return b;
    }

    /** The cuDNN handle, created on first use; null when cuDNN is not available on this host (asked once). */
    Cudnn cudnn() {
        Cudnn c = cudnn;
        if (c == null && !cudnnTried) {
            synchronized (this) {
                if (!cudnnTried) {
                    cudnn = Cudnn.create(this);
                    cudnnTried = true;
                }
                c = cudnn;
            }
        }
        return c;
    }

    /** Waits until every op enqueued so far has run, then throws any error a kernel recorded. */
    void synchronize() {
        countHostSync();
        makeCurrent();
        Cuda.check(cuStreamSynchronize(stream), "cuStreamSynchronize(" + device + ")");
        errors.throwIfAny();
    }

    /** Counts one place where the host waits for this GPU (reading values back, synchronize()). */
    void countHostSync() { hostSyncs.incrementAndGet(); }

    /** How often the host has waited for this GPU so far. */
    long hostSyncs() { return hostSyncs.get(); }

    @Override public String toString() { return device.toString(); }
}
