package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSA;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSB;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmul;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulAlgoGetHeuristic;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulDescSetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtMatmulPreferenceSetAttribute;
import static org.bytedeco.cuda.global.cublas.cublasLtMatrixLayoutCreate;
import static org.bytedeco.cuda.global.cublas.cublasLtMatrixLayoutDestroy;
import static org.bytedeco.cuda.global.cublas.cublasLtMatrixLayoutSetAttribute;

/**
 * The float16 / bfloat16 batched GEMMs of {@link CudaMatmul} (autocast's matmuls) through cuBLASLt, which picks
 * Hopper's faster kernels where cublasGemmStridedBatchedEx may not: float32 accumulation (CUBLAS_COMPUTE_32F) and
 * float32 alpha/beta, operands as laid out by the caller (column-major, like cublasGemmEx's arguments). The
 * alignment preferences come from the actual addresses (a view at an offset gets an algorithm that allows it), and
 * the heuristic's choice is cached per device, shape, layout and alignment, so a training loop asks for it once.
 */
final class CublasLtGemm {
    private CublasLtGemm() {}

    /** Calls so far, all devices (tests prove the path ran). */
    static final LongAdder CALLS = new LongAdder();

    private record Key(dev.fluxion.tensor.Device device, DType dt, boolean ta, boolean tb, int m, int n, int k, int lda, int ldb, int ldc, int batch,
                       long sa, long sb, long sc, int aa, int ab, int ac) {}

    private static final int CACHE_MAX = 512;
    private static final Map<Key, cublasLtMatmulHeuristicResult_t> ALGOS = new ConcurrentHashMap<>();

    /**
     * Column-major C [m, n] = op(A) op(B) for each of batch slices (A at a + i * sa, and likewise), as
     * cublasGemmStridedBatchedEx(ta, tb, m, n, k, 1, A, lda, sa, B, ldb, sb, 0, C, ldc, sc, batch) with float32
     * accumulation. Returns false (nothing enqueued) when cuBLASLt has no algorithm for it.
     */
    static boolean gemm(CudaDevice d, CudaBlas blas, DType dt, boolean ta, boolean tb, int m, int n, int k,
                        long a, int lda, long sa, long b, int ldb, long sb, long c, int ldc, long sc, int batch) {
        int type = CudaMatmul.blasType(dt);
        Key key = new Key(d.device, dt, ta, tb, m, n, k, lda, ldb, ldc, batch, sa, sb, sc,
                CublasLt.alignment(a), CublasLt.alignment(b), CublasLt.alignment(c));
        d.makeCurrent();
        try (PointerPointer<?> pp = new PointerPointer<>(1); IntPointer iv = new IntPointer(1); LongPointer lv = new LongPointer(1)) {
            CudaBlas.check(cublasLtMatmulDescCreate(pp, CUBLAS_COMPUTE_32F, 0 /* CUDA_R_32F scale */), "cublasLtMatmulDescCreate");
            cublasLtMatmulDescOpaque_t desc = new cublasLtMatmulDescOpaque_t(pp.get(0));
            cublasLtMatrixLayoutOpaque_t la = null, lb = null, lc = null;
            try {
                CudaBlas.check(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, iv.put(ta ? CUBLAS_OP_T : CUBLAS_OP_N), 4), "TRANSA");
                CudaBlas.check(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, iv.put(tb ? CUBLAS_OP_T : CUBLAS_OP_N), 4), "TRANSB");
                // layouts describe the matrices as stored: op(A) is m x k, so A is k x m when transposed
                la = layout(pp, iv, lv, type, ta ? k : m, ta ? m : k, lda, batch, sa);
                lb = layout(pp, iv, lv, type, tb ? n : k, tb ? k : n, ldb, batch, sb);
                lc = layout(pp, iv, lv, type, m, n, ldc, batch, sc);
                cublasLtMatmulHeuristicResult_t h = ALGOS.get(key);
                if (h == null) {
                    h = heuristic(blas, desc, la, lb, lc, key, pp, iv, lv);
                    if (h == null) return false;
                    if (ALGOS.size() >= CACHE_MAX) ALGOS.clear();             // a bound, not an LRU: shapes of one model repeat
                    ALGOS.put(key, h);
                }
                CudaBlas.check(cublasLtMatmul(blas.lt, desc, blas.one(dt), Cuda.at(a), la, Cuda.at(b), lb, blas.zero(dt), Cuda.at(c), lc,
                        Cuda.at(c), lc, h.algo(), Cuda.at(blas.workspace), CudaBlas.WORKSPACE_BYTES, d.stream),
                        "cublasLtMatmul(" + dt + ", batch " + batch + ", " + m + "x" + k + " @ " + k + "x" + n + ") on " + d);
                CALLS.increment();
                return true;
            } finally {
                cublasLtMatmulDescDestroy(desc);
                if (la != null) cublasLtMatrixLayoutDestroy(la);
                if (lb != null) cublasLtMatrixLayoutDestroy(lb);
                if (lc != null) cublasLtMatrixLayoutDestroy(lc);
            }
        }
    }

    private static cublasLtMatmulHeuristicResult_t heuristic(CudaBlas blas, cublasLtMatmulDescOpaque_t desc, cublasLtMatrixLayoutOpaque_t la,
                                                              cublasLtMatrixLayoutOpaque_t lb, cublasLtMatrixLayoutOpaque_t lc, Key key,
                                                              PointerPointer<?> pp, IntPointer iv, LongPointer lv) {
        CudaBlas.check(cublasLtMatmulPreferenceCreate(pp), "cublasLtMatmulPreferenceCreate");
        cublasLtMatmulPreferenceOpaque_t pref = new cublasLtMatmulPreferenceOpaque_t(pp.get(0));
        try (IntPointer found = new IntPointer(1)) {
            CudaBlas.check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, lv.put(CudaBlas.WORKSPACE_BYTES), 8), "workspace preference");
            int[][] aligns = {{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.aa()}, {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.ab()},
                    {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.ac()}, {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.ac()}};
            for (int[] al : aligns)
                CudaBlas.check(cublasLtMatmulPreferenceSetAttribute(pref, al[0], iv.put(al[1]), 4), "alignment preference " + al[0] + " = " + al[1]);
            cublasLtMatmulHeuristicResult_t h = new cublasLtMatmulHeuristicResult_t();
            CudaBlas.check(cublasLtMatmulAlgoGetHeuristic(blas.lt, desc, la, lb, lc, lc, pref, 1, h, found), "cublasLtMatmulAlgoGetHeuristic");
            if (found.get() == 0) {
                h.close();
                return null;
            }
            return h;
        } finally {
            cublasLtMatmulPreferenceDestroy(pref);
        }
    }

    private static cublasLtMatrixLayoutOpaque_t layout(PointerPointer<?> pp, IntPointer iv, LongPointer lv, int type, long rows, long cols, long ld,
                                                       int batch, long stride) {
        CudaBlas.check(cublasLtMatrixLayoutCreate(pp, type, rows, cols, ld), "cublasLtMatrixLayoutCreate");
        cublasLtMatrixLayoutOpaque_t l = new cublasLtMatrixLayoutOpaque_t(pp.get(0));
        if (batch > 1) {
            CudaBlas.check(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, iv.put(batch), 4), "batch count " + batch);
            CudaBlas.check(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, lv.put(stride), 8), "batch stride " + stride);
        }
        return l;
    }
}
