package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_BFLOAT16;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_DOUBLE;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_FLOAT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_HALF;
import static org.bytedeco.cuda.global.cudnn.CUDNN_STATUS_NOT_SUPPORTED;
import static org.bytedeco.cuda.global.cudnn.CUDNN_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TENSOR_NCHW;
import static org.bytedeco.cuda.global.cudnn.cudnnCreate;
import static org.bytedeco.cuda.global.cudnn.cudnnCreateTensorDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroy;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyTensorDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnGetErrorString;
import static org.bytedeco.cuda.global.cudnn.cudnnSetStream;
import static org.bytedeco.cuda.global.cudnn.cudnnSetTensor4dDescriptor;

/**
 * cuDNN on one GPU: its handle, created on first use and bound to the device's stream (so every cuDNN call is
 * ordered with the device's other work and nothing waits for the GPU), the plans of the convolutions and poolings
 * run so far (descriptors + chosen algorithms, an LRU of {@value #PLANS} per device, destroyed on eviction and
 * close), status errors naming the call, and counters the gpu tests read to prove cuDNN ran. cuDNN is not in the
 * Maven jars: it is loaded from the host (libcudnn.so.9: the toolkit's cuDNN 9, or the nvidia-cudnn-cu13 wheel on
 * LD_LIBRARY_PATH); when it cannot be, {@link #unavailableReason()} says why (Doctor prints it), the CUDA kernels
 * of {@code Conv2dOp} and {@code AvgPool2dOp} decline, and their composed defaults run (im2col + cuBLAS).
 * Calls on one handle are serialised (a handle is not safe to share between threads).
 */
final class Cudnn implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("dev.fluxion");
    private static final AtomicBoolean UNAVAILABLE_REPORTED = new AtomicBoolean();
    /** Plans kept per device: a model has a few dozen distinct convolution shapes. */
    static final int PLANS = 64;

    /** Null when cuDNN loaded, else a one-line reason. */
    static String unavailableReason() { return NativeLibraries.load(org.bytedeco.cuda.global.cudnn.class, "cuDNN"); }

    /** Whether cuDNN may be used at all (PyTorch's torch.backends.cudnn.enabled): -Dfluxion.cuda.cudnn=false turns it off. */
    private static volatile boolean enabled = !"false".equals(System.getProperty("fluxion.cuda.cudnn"));

    static void setEnabled(boolean on) { enabled = on; }

    static boolean enabled() { return enabled; }

    /** The handle of d; null when cuDNN is switched off or cannot be loaded (the reason is logged once per process). */
    static Cudnn of(CudaDevice d) {
        if (!enabled) return null;
        Cudnn c = d.cudnn();
        if (c == null && UNAVAILABLE_REPORTED.compareAndSet(false, true))
            LOG.warning("Fluxion: cuDNN is not available (" + reason() + "); convolution and average pooling on " + d
                    + " run as im2col + cuBLAS. Run dev.fluxion.cuda.Doctor to see how to install cuDNN 9");
        return c;
    }

    final CudaDevice device;
    final cudnnContext handle = new cudnnContext();
    private final FloatPointer oneF = new FloatPointer(1f), zeroF = new FloatPointer(0f);
    private final DoublePointer oneD = new DoublePointer(1.0), zeroD = new DoublePointer(0.0);
    private final Plans plans = new Plans(PLANS);
    private final Map<String, AtomicLong> calls = new ConcurrentHashMap<>();

    /** Plans by key in access order; beyond capacity the least recently used is closed and dropped. Not thread-safe. */
    static final class Plans extends LinkedHashMap<Object, AutoCloseable> {
        private final int capacity;

        Plans(int capacity) {
            super(16, 0.75f, true);
            this.capacity = capacity;
        }

        @Override protected boolean removeEldestEntry(Map.Entry<Object, AutoCloseable> eldest) {
            if (size() <= capacity) return false;
            closeQuietly(eldest.getValue());
            return true;
        }
    }

    Cudnn(CudaDevice d) {
        this.device = d;
        d.makeCurrent();
        check(cudnnCreate(handle), "cudnnCreate on " + d, "");
        check(cudnnSetStream(handle, d.stream), "cudnnSetStream on " + d, "");
    }

    /** Why creating a handle failed (the library loaded, cudnnCreate did not), or null. */
    private static volatile String createFailure;

    /** The handles for d, or null when cuDNN is not available on this host or its handle cannot be created (kept in {@link #reason()}). */
    static Cudnn create(CudaDevice d) {
        if (unavailableReason() != null) return null;
        try {
            return new Cudnn(d);
        } catch (CudaException | LinkageError e) {
            createFailure = CudaBackendProvider.firstLine(e);
            return null;
        }
    }

    /** Why cuDNN is not used: switched off, not loadable, or its handle failed; null when it is used. */
    static String reason() {
        if (!enabled) return "switched off (CudaBackend.setCudnnEnabled(false) or -Dfluxion.cuda.cudnn=false)";
        String r = unavailableReason();
        return r != null ? r : createFailure;
    }

    /**
     * The plan cached under key, or the one make builds (then cached; the least recently used beyond PLANS is
     * destroyed); null when cuDNN answers NOT_SUPPORTED while building it (the kernel declines). Under this lock.
     */
    @SuppressWarnings("unchecked")
    <P extends AutoCloseable> P plan(Object key, java.util.function.Supplier<P> make) {
        AutoCloseable p = plans.get(key);
        if (p == null) {
            try {
                p = make.get();
            } catch (CudaException e) {
                if (notSupported(e.code())) return null;
                throw e;
            }
            plans.put(key, p);
        }
        return (P) p;
    }

    int cachedPlans() { return plans.size(); }

    /** Counts one call of a cuDNN function that does work on the GPU (for the gpu tests' proof that cuDNN ran). */
    void count(String function) { calls.computeIfAbsent(function, k -> new AtomicLong()).incrementAndGet(); }

    /** How often function (e.g. "cudnnConvolutionForward") ran on this device. */
    long calls(String function) {
        AtomicLong n = calls.get(function);
        return n == null ? 0 : n.get();
    }

    /** Host pointer to 1 in the scaling type cuDNN expects for dt (double for float64, else float). */
    Pointer one(DType dt) { return dt == DType.FLOAT64 ? oneD : oneF; }

    Pointer zero(DType dt) { return dt == DType.FLOAT64 ? zeroD : zeroF; }

    /** cuDNN's data type for dt; -1 for a dtype cuDNN's convolution and pooling do not take (the kernels then decline). */
    static int dataType(DType dt) {
        return switch (dt) {
            case FLOAT32 -> CUDNN_DATA_FLOAT;
            case FLOAT64 -> CUDNN_DATA_DOUBLE;
            case FLOAT16 -> CUDNN_DATA_HALF;
            case BFLOAT16 -> CUDNN_DATA_BFLOAT16;
            default -> -1;
        };
    }

    /** A packed NCHW tensor descriptor (n, c, h, w) of dt. */
    static cudnnTensorStruct tensor(DType dt, int n, int c, int h, int w, String shapes) {
        cudnnTensorStruct t = new cudnnTensorStruct();
        check(cudnnCreateTensorDescriptor(t), "cudnnCreateTensorDescriptor", shapes);
        int r = cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, dataType(dt), n, c, h, w);
        if (r != CUDNN_STATUS_SUCCESS) {
            cudnnDestroyTensorDescriptor(t);
            check(r, "cudnnSetTensor4dDescriptor(" + n + ", " + c + ", " + h + ", " + w + ", " + dt + ")", shapes);
        }
        return t;
    }

    /**
     * t itself when it is contiguous and 16-byte aligned (what cuDNN's packed descriptors and vectorised kernels
     * assume), else a copy in a fresh block of the pool (which aligns to at least 256 bytes).
     */
    static Tensor packed(CudaDevice d, Tensor t) {
        if (t.isContiguous() && CudaElementwise.address(t) % 16 == 0) return t;
        Tensor c = Tensor.empty(t.dtype(), d.device, t.shape());
        CudaElementwise.copy(d, t, c);
        return c;
    }

    /**
     * Whether status is one of cuDNN 9's NOT_SUPPORTED family (3000-3999: this configuration has no kernel here). The
     * call enqueued nothing, so the kernels decline and the composed default runs instead of failing.
     */
    static boolean notSupported(int status) { return status / 1000 == CUDNN_STATUS_NOT_SUPPORTED / 1000; }

    /** Throws a {@link CudaException} naming the call, the shapes and cuDNN's description when status is not success. */
    static void check(int status, String call, String shapes) {
        if (status == CUDNN_STATUS_SUCCESS) return;
        BytePointer s = cudnnGetErrorString(status);
        throw new CudaException(call + " failed" + (shapes.isEmpty() ? "" : " for " + shapes) + ": cuDNN status " + status
                + (s == null || s.isNull() ? "" : " (" + s.getString() + ")"), status);
    }

    static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception | LinkageError e) {
            // a descriptor destroy fails only when the library is gone (JVM shutdown)
        }
    }

    /** Destroys the cached plans and the handle (the device is going away). */
    @Override public synchronized void close() {
        for (AutoCloseable p : plans.values()) closeQuietly(p);
        plans.clear();
        device.makeCurrent();
        cudnnDestroy(handle);
    }
}
