package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.LinearOp;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;

import java.lang.ref.Reference;
import java.util.Arrays;

import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_GELU;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_GELU_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_RELU;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_RELU_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_BIAS_POINTER;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_EPILOGUE;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSA;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSB;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F_FAST_TF32;
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

/**
 * A linear layer in one cuBLASLt call: y = act(x W^T + b), with the bias add and the activation fused
 * into the GEMM's epilogue. cuBLASLt's GELU epilogue is the tanh approximation (Tensor.geluTanh).
 *
 * <pre>{@code
 * Tensor h = CublasLt.linear(x, w, b, CublasLt.Epilogue.GELU);   // x [M, K], w [N, K], b [N] -> [M, N]
 * }</pre>
 */
public final class CublasLt {
    private CublasLt() {}

    /** What the epilogue applies after the product; the *_BIAS-free kinds take a null bias. */
    public enum Epilogue {
        NONE(CUBLASLT_EPILOGUE_DEFAULT, CUBLASLT_EPILOGUE_BIAS),
        RELU(CUBLASLT_EPILOGUE_RELU, CUBLASLT_EPILOGUE_RELU_BIAS),
        GELU(CUBLASLT_EPILOGUE_GELU, CUBLASLT_EPILOGUE_GELU_BIAS);

        final int plain, withBias;

        Epilogue(int plain, int withBias) {
            this.plain = plain;
            this.withBias = withBias;
        }
    }

    /** y = epilogue(x @ weight^T + bias). x: [M, K]; weight: [N, K]; bias: [N] or null; float32, float16 or bfloat16. */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias, Epilogue epilogue) {
        CudaDevice d = Fused.device("CublasLt.linear", x);
        if (x.dim() != 2 || weight.dim() != 2 || x.size(1) != weight.size(1))
            throw new IllegalArgumentException("CublasLt.linear: expects x [M, K] and weight [N, K], got " + Arrays.toString(x.shape()) + " and " + Arrays.toString(weight.shape()));
        DType dt = x.dtype();
        if (dt != DType.FLOAT32 && dt != DType.FLOAT16 && dt != DType.BFLOAT16)
            throw new IllegalArgumentException("CublasLt.linear: float32, float16 or bfloat16 only, got " + dt);
        if (weight.dtype() != dt || bias != null && bias.dtype() != dt)
            throw new IllegalArgumentException("CublasLt.linear: x, weight and bias must share a dtype, got " + dt + ", " + weight.dtype() + (bias == null ? "" : ", " + bias.dtype()));
        int m = x.size(0), k = x.size(1), n = weight.size(0);
        if (bias != null && (bias.dim() != 1 || bias.size(0) != n))
            throw new IllegalArgumentException("CublasLt.linear: bias must be [" + n + "], got " + Arrays.toString(bias.shape()));
        CudaBlas blas = d.blas();
        if (blas == null) throw new IllegalStateException("CublasLt.linear: cuBLAS is not available: " + CudaBlas.unavailableReason());
        Tensor xc = CudaReduce.contiguous(d, x), wc = CudaReduce.contiguous(d, weight), bc = bias == null ? null : CudaReduce.contiguous(d, bias);
        // the bias epilogue reads the bias with vector loads and has no alignment preference: an unaligned bias
        // (a view at an odd offset) is copied to a fresh block, which the pool aligns to at least 256 bytes
        if (bc != null && alignment(CudaElementwise.address(bc)) < BIAS_ALIGNMENT) {
            Tensor aligned = Tensor.empty(dt, d.device, n);
            CudaElementwise.copy(d, bc, aligned);
            if (bc != bias) bc.close();
            bc = aligned;
        }
        Tensor y = Tensor.empty(dt, d.device, m, n);
        if (m == 0 || n == 0) return y;
        int type = CudaMatmul.blasType(dt);
        int compute = dt == DType.FLOAT32 && CudaBackend.allowTf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
        d.makeCurrent();
        // Column-major view: D [N, M] = op_T(W^T stored [K, N]) * op_N(X^T stored [K, M]); the bias runs along D's rows (N).
        long ya = CudaElementwise.address(y);
        int epilogueCode = bc == null ? epilogue.plain : epilogue.withBias;
        HeuristicKey key = new HeuristicKey(d.device, dt, m, n, k, epilogueCode, compute, alignment(CudaElementwise.address(wc)),
                alignment(CudaElementwise.address(xc)), alignment(ya));
        try (PointerPointer<?> pp = new PointerPointer<>(1); IntPointer iv = new IntPointer(1); LongPointer lv = new LongPointer(1);
             IntPointer found = new IntPointer(1)) {
            CudaBlas.check(cublasLtMatmulDescCreate(pp, compute, 0 /* CUDA_R_32F scale */), "cublasLtMatmulDescCreate");
            cublasLtMatmulDescOpaque_t desc = new cublasLtMatmulDescOpaque_t(pp.get(0));
            cublasLtMatrixLayoutOpaque_t la = null, lb = null, lc = null;
            cublasLtMatmulPreferenceOpaque_t pref = null;
            try {
                set(desc, CUBLASLT_MATMUL_DESC_TRANSA, iv.put(CUBLAS_OP_T));
                set(desc, CUBLASLT_MATMUL_DESC_TRANSB, iv.put(CUBLAS_OP_N));
                set(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, iv.put(epilogueCode));
                if (bc != null)
                    CudaBlas.check(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, lv.put(CudaElementwise.address(bc)), 8), "bias pointer");
                la = layout(pp, type, k, n, k);
                lb = layout(pp, type, k, m, k);
                lc = layout(pp, type, n, m, n);
                cublasLtMatmulHeuristicResult_t heuristic = HEURISTICS.get(key);
                if (heuristic == null) {
                    CudaBlas.check(cublasLtMatmulPreferenceCreate(pp), "cublasLtMatmulPreferenceCreate");
                    pref = new cublasLtMatmulPreferenceOpaque_t(pp.get(0));
                    CudaBlas.check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, lv.put(CudaBlas.WORKSPACE_BYTES), 8),
                            "workspace preference");
                    // cuBLASLt assumes 256-byte aligned matrices unless told otherwise; a view with an offset may not be
                    int[][] aligns = {{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.alignW()}, {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.alignX()},
                            {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.alignY()}, {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.alignY()}};
                    for (int[] a : aligns)
                        CudaBlas.check(cublasLtMatmulPreferenceSetAttribute(pref, a[0], iv.put(a[1]), 4), "alignment preference " + a[0] + " = " + a[1]);
                    heuristic = new cublasLtMatmulHeuristicResult_t();
                    CudaBlas.check(cublasLtMatmulAlgoGetHeuristic(blas.lt, desc, la, lb, lc, lc, pref, 1, heuristic, found), "cublasLtMatmulAlgoGetHeuristic");
                    if (found.get() == 0) {
                        heuristic.close();
                        throw new CudaException("CublasLt.linear: cuBLASLt has no algorithm for " + dt + " [" + m + ", " + k + "] x [" + n + ", " + k + "]^T with " + epilogue, 0);
                    }
                    if (HEURISTICS.size() >= HEURISTICS_MAX) HEURISTICS.clear();     // a bound, not an LRU: a model's shapes repeat
                    HEURISTICS.put(key, heuristic);
                }
                CudaBlas.check(cublasLtMatmul(blas.lt, desc, blas.one(dt), Cuda.at(CudaElementwise.address(wc)), la, Cuda.at(CudaElementwise.address(xc)), lb,
                        blas.zero(dt), Cuda.at(CudaElementwise.address(y)), lc, Cuda.at(CudaElementwise.address(y)), lc, heuristic.algo(),
                        Cuda.at(blas.workspace), CudaBlas.WORKSPACE_BYTES, d.stream), "cublasLtMatmul on " + d);
                LINEAR_CALLS.increment();
                Reference.reachabilityFence(xc);
                Reference.reachabilityFence(wc);
                Reference.reachabilityFence(bc);
            } finally {
                cublasLtMatmulDescDestroy(desc);
                if (la != null) cublasLtMatrixLayoutDestroy(la);
                if (lb != null) cublasLtMatrixLayoutDestroy(lb);
                if (lc != null) cublasLtMatrixLayoutDestroy(lc);
                if (pref != null) cublasLtMatmulPreferenceDestroy(pref);
            }
        }
        Fused.release(xc, x);
        Fused.release(wc, weight);
        Fused.release(bc, bias);
        return y;
    }

    /** What the heuristic's choice depends on: the call's shapes, epilogue, math and the alignments it was promised. */
    private record HeuristicKey(dev.fluxion.tensor.Device device, DType dt, int m, int n, int k, int epilogue, int compute, int alignW, int alignX, int alignY) {}

    /** The heuristic's choice per key: a training loop asks cuBLASLt once per layer shape, not once per call. */
    private static final java.util.Map<HeuristicKey, cublasLtMatmulHeuristicResult_t> HEURISTICS = new java.util.concurrent.ConcurrentHashMap<>();
    private static final int HEURISTICS_MAX = 512;

    /** linear calls so far, all devices (tests prove the fused path ran). */
    static final java.util.concurrent.atomic.LongAdder LINEAR_CALLS = new java.util.concurrent.atomic.LongAdder();

    /**
     * The CUDA kernel of the tensor module's {@link LinearOp} (registered in {@link CudaFusedKernels}): the forward is
     * one {@link #linear} call, the bias added in the GEMM's epilogue instead of a second pass over the output;
     * x (..., in) is viewed as rows. The backward declines: the op's rule (dx = g W, dweight = g^T x, dbias = column
     * sums of g) runs as cuBLAS GEMMs and one reduction. Declines for float64, an empty inner dimension, or without
     * cuBLAS (the composed matmul + add then runs).
     */
    static final class LinearKernel implements FusedKernel<LinearOp> {
        @Override public FusedOp.Result forward(LinearOp op, Tensor[] in) {
            Tensor x = in[0], w = in[1], b = in[2];
            DType dt = x.dtype();
            if (dt != DType.FLOAT32 && dt != DType.FLOAT16 && dt != DType.BFLOAT16 || w.size(1) == 0) return null;
            if (Fused.device("linear", x).blas() == null) return null;
            int[] shape = x.shape();
            shape[shape.length - 1] = w.size(0);
            Tensor y = linear(x.reshape(-1, w.size(1)), w, b, Epilogue.NONE);
            return new FusedOp.Result(y.reshape(shape));
        }

        @Override public Tensor[] backward(LinearOp op, Saved saved, Tensor g) { return null; }
    }

    /** Alignment the bias pointer of an epilogue is given (16 bytes: one vector load). */
    static final int BIAS_ALIGNMENT = 16;

    /** The largest power of two up to 256 that divides address: what cuBLASLt may assume about a matrix there. */
    static int alignment(long address) {
        if (address == 0) return 256;
        return (int) Math.min(256, Long.lowestOneBit(address));
    }

    private static void set(cublasLtMatmulDescOpaque_t desc, int attribute, IntPointer value) {
        CudaBlas.check(cublasLtMatmulDescSetAttribute(desc, attribute, value, 4), "cublasLtMatmulDescSetAttribute(" + attribute + ")");
    }

    private static cublasLtMatrixLayoutOpaque_t layout(PointerPointer<?> pp, int type, long rows, long cols, long ld) {
        CudaBlas.check(cublasLtMatrixLayoutCreate(pp, type, rows, cols, ld), "cublasLtMatrixLayoutCreate");
        return new cublasLtMatrixLayoutOpaque_t(pp.get(0));
    }
}
