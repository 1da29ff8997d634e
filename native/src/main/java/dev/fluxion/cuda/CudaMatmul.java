package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.lang.ref.Reference;
import java.util.logging.Logger;

import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F_FAST_TF32;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_64F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_GEMM_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.cublasGemmStridedBatchedEx;

/**
 * Batched GEMM [B, M, K] @ [B, K, N] -> [B, M, N] through cuBLAS (cublasGemmStridedBatchedEx), or, when
 * cuBLAS cannot be loaded on this host, through the tiled fallback kernel of matmul.cu (said once in the
 * log). Operands whose 2-D slices are row-major or transposed with a leading dimension go in place;
 * other layouts are copied once. float16 and bfloat16 (autocast's GEMMs) go through cuBLASLt ({@link CublasLtGemm})
 * and accumulate in float32; float32 uses TF32 tensor cores only when allowed ({@link CudaBackend#setAllowTf32}).
 */
final class CudaMatmul {
    private CudaMatmul() {}

    private static final Logger LOG = Logger.getLogger("dev.fluxion");
    private static volatile boolean fallbackLogged;

    /** Tests set this to run float16/bfloat16 GEMMs through cublasGemmStridedBatchedEx instead of cuBLASLt. */
    static volatile boolean forceGemmEx;

    /** Tests set this to run the fallback kernel on a host that has cuBLAS. */
    static volatile boolean forceFallback;

    /** How a [rows, cols] slice with strides (rs, cs) is handed to BLAS, or null when it must be copied. */
    record Layout(boolean trans, int ld) {
        static Layout of(int rows, int cols, long rs, long cs) {
            if (rs > Integer.MAX_VALUE || cs > Integer.MAX_VALUE) return null;   // cuBLAS leading dims are int: copy
            if ((cols == 1 || cs == 1) && (rows == 1 || rs >= cols)) return new Layout(false, Math.max(rows == 1 ? cols : (int) rs, Math.max(cols, 1)));
            if ((rows == 1 || rs == 1) && (cols == 1 || cs >= rows)) return new Layout(true, Math.max(cols == 1 ? rows : (int) cs, Math.max(rows, 1)));
            return null;
        }
    }

    static Tensor matmul(CudaDevice d, Tensor a, Tensor b) {
        int batch = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
        Tensor out = Tensor.empty(a.dtype(), d.device, batch, m, n);
        if (out.numel() == 0) return out;
        if (k == 0) {
            CudaElementwise.fill(d, out, 0);
            return out;
        }
        CudaBlas blas = forceFallback ? null : d.blas();
        if (blas == null) return fallback(d, a, b, out);
        Tensor ca = a, cb = b;
        Layout la = Layout.of(m, k, a.stride()[1], a.stride()[2]);
        if (la == null) { ca = CudaReduce.contiguous(d, a); la = Layout.of(m, k, ca.stride()[1], ca.stride()[2]); }
        Layout lb = Layout.of(k, n, b.stride()[1], b.stride()[2]);
        if (lb == null) { cb = CudaReduce.contiguous(d, b); lb = Layout.of(k, n, cb.stride()[1], cb.stride()[2]); }
        DType dt = a.dtype();
        int type = blasType(dt);
        int compute = dt == DType.FLOAT64 ? CUBLAS_COMPUTE_64F : dt == DType.FLOAT32 && CudaBackend.allowTf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
        // Row-major C = A B is column-major C^T = B^T A^T: cuBLAS gets B first, and m and n swap.
        if ((dt == DType.FLOAT16 || dt == DType.BFLOAT16) && !forceGemmEx
                && CublasLtGemm.gemm(d, blas, dt, lb.trans(), la.trans(), n, m, k, CudaElementwise.address(cb), lb.ld(), cb.stride()[0],
                        CudaElementwise.address(ca), la.ld(), ca.stride()[0], CudaElementwise.address(out), n, (long) m * n, batch)) {
            Reference.reachabilityFence(ca);
            Reference.reachabilityFence(cb);
            if (ca != a) ca.close();
            if (cb != b) cb.close();
            return out;
        }
        d.makeCurrent();
        int r = cublasGemmStridedBatchedEx(blas.handle, lb.trans() ? CUBLAS_OP_T : CUBLAS_OP_N, la.trans() ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
                blas.one(dt), Cuda.at(CudaElementwise.address(cb)), type, lb.ld(), cb.stride()[0],
                Cuda.at(CudaElementwise.address(ca)), type, la.ld(), ca.stride()[0],
                blas.zero(dt), Cuda.at(CudaElementwise.address(out)), type, n, (long) m * n, batch, compute, CUBLAS_GEMM_DEFAULT);
        Reference.reachabilityFence(ca);
        Reference.reachabilityFence(cb);
        CudaBlas.check(r, "cublasGemmStridedBatchedEx(" + dt + ", batch " + batch + ", " + m + "x" + k + " @ " + k + "x" + n + ") on " + d);
        if (ca != a) ca.close();
        if (cb != b) cb.close();
        return out;
    }

    static int blasType(DType dt) {
        return switch (dt) {
            case FLOAT32 -> 0;    // CUDA_R_32F
            case FLOAT64 -> 1;    // CUDA_R_64F
            case FLOAT16 -> 2;    // CUDA_R_16F
            case BFLOAT16 -> 14;  // CUDA_R_16BF
            default -> throw new IllegalArgumentException("matmul: not defined for " + dt + " tensors on CUDA");
        };
    }

    private static Tensor fallback(CudaDevice d, Tensor a, Tensor b, Tensor out) {
        if (!fallbackLogged && !forceFallback) {
            fallbackLogged = true;
            LOG.warning("Fluxion: cuBLAS is not available (" + CudaBlas.unavailableReason() + "); matmul on " + d
                    + " uses a slow fallback kernel. Run dev.fluxion.cuda.Doctor to see how to install cuBLAS");
        }
        int batch = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
        long[] sa = a.stride(), sb = b.stride();
        d.kernels.launch("fx_gemm_" + Codes.suffix(a.dtype()), (n + 15) / 16, (m + 15) / 16, Math.min(batch, 65535), 16, 16, 1,
                KernelArgs.start().i32(batch).i32(m).i32(n).i32(k).ptr(a).i64(sa[0]).i64(sa[1]).i64(sa[2]).ptr(b).i64(sb[0]).i64(sb[1]).i64(sb[2]).ptr(out));
        return out;
    }
}
