package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cublas.cublasLtContext;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

import static org.bytedeco.cuda.global.cublas.cublasCreate_v2;
import static org.bytedeco.cuda.global.cublas.cublasGetStatusString;
import static org.bytedeco.cuda.global.cublas.cublasLtCreate;
import static org.bytedeco.cuda.global.cublas.cublasSetStream_v2;
import static org.bytedeco.cuda.global.cublas.cublasSetWorkspace_v2;

/**
 * cuBLAS and cuBLASLt handles of one GPU, bound to its stream, with a workspace from its pool. cuBLAS is
 * not in the Maven jars: it is loaded from the host (CUDA toolkit, or the nvidia-cublas wheel on
 * LD_LIBRARY_PATH); {@link #unavailableReason()} says why when it cannot be.
 */
final class CudaBlas {
    static final long WORKSPACE_BYTES = 32L << 20;   // what NVIDIA recommends for Hopper; enough for the rest

    /** Null when cuBLAS loaded, else a one-line reason. */
    static String unavailableReason() { return NativeLibraries.load(org.bytedeco.cuda.global.cublas.class, "cuBLAS"); }

    final cublasContext handle = new cublasContext();
    final cublasLtContext lt = new cublasLtContext();
    final long workspace;
    private final FloatPointer oneF = new FloatPointer(1f), zeroF = new FloatPointer(0f);
    private final DoublePointer oneD = new DoublePointer(1.0), zeroD = new DoublePointer(0.0);

    private CudaBlas(CudaDevice d) {
        d.makeCurrent();
        check(cublasCreate_v2(handle), "cublasCreate on " + d);
        check(cublasSetStream_v2(handle, d.stream), "cublasSetStream");
        this.workspace = d.allocator.allocate(WORKSPACE_BYTES);   // held for the life of the device
        check(cublasSetWorkspace_v2(handle, Cuda.at(workspace), WORKSPACE_BYTES), "cublasSetWorkspace");
        check(cublasLtCreate(lt), "cublasLtCreate on " + d);
    }

    /** The handles for d, or null when cuBLAS is not available on this host. */
    static CudaBlas create(CudaDevice d) {
        return unavailableReason() == null ? new CudaBlas(d) : null;
    }

    /** Host pointer to 1 in the scale type of dt (double for float64, else float). */
    Pointer one(DType dt) { return dt == DType.FLOAT64 ? oneD : oneF; }

    Pointer zero(DType dt) { return dt == DType.FLOAT64 ? zeroD : zeroF; }

    static void check(int status, String call) {
        if (status == 0) return;
        BytePointer s = cublasGetStatusString(status);
        throw new CudaException(call + " failed: cuBLAS status " + status + (s == null || s.isNull() ? "" : " (" + s.getString() + ")"), status);
    }
}
