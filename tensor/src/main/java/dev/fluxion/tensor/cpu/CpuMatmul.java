package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

/**
 * Batched GEMM through OpenBLAS. Each operand's 2-D slices are passed in place when their layout is
 * row-major or transposed with a leading dimension (views from transpose/slice/expand need no copy);
 * other layouts are copied once. 16-bit floats compute in float32, as PyTorch does on the CPU. OpenBLAS
 * takes int offsets and leading dims: every operand must lie in one buffer (at most 2 GiB), else an error.
 */
final class CpuMatmul {
    private CpuMatmul() {}

    /** How a [rows, cols] slice with strides (rs, cs) is handed to BLAS, or null when it must be copied. */
    private record Layout(boolean trans, int ld) {}

    private static Layout layout(int rows, int cols, long rs, long cs) {
        if (rs > Integer.MAX_VALUE || cs > Integer.MAX_VALUE) return null;     // BLAS leading dims are int: copy
        if ((cols == 1 || cs == 1) && (rows == 1 || rs >= cols)) return new Layout(false, Math.max(rows == 1 ? cols : (int) rs, Math.max(cols, 1)));
        if ((rows == 1 || rs == 1) && (cols == 1 || cs >= rows)) return new Layout(true, Math.max(cols == 1 ? rows : (int) cs, Math.max(rows, 1)));
        return null;
    }

    static Tensor matmul(Tensor a, Tensor b) {
        DType dt = a.dtype();
        if (dt == DType.FLOAT16 || dt == DType.BFLOAT16) {
            try (Tensor wa = widen(a); Tensor wb = widen(b); Tensor r = matmul(wa, wb)) {   // temporaries go back to the pool now
                Tensor out = CpuBackend.empty(dt, r.shape());
                CpuBackend.INSTANCE.copy(r, out);
                return out;
            }
        }
        int batch = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
        Tensor out = CpuBackend.empty(dt, new int[] {batch, m, n});
        if (out.numel() == 0) return out;
        if (k == 0) { CpuBackend.INSTANCE.fill(out, 0); return out; }
        Layout la = layout(m, k, a.stride()[1], a.stride()[2]), lb = layout(k, n, b.stride()[1], b.stride()[2]);
        Tensor copyA = la == null ? CpuBackend.contiguousCopy(a) : null, copyB = lb == null ? CpuBackend.contiguousCopy(b) : null;
        try {
            if (copyA != null) { a = copyA; la = layout(m, k, a.stride()[1], a.stride()[2]); }
            if (copyB != null) { b = copyB; lb = layout(k, n, b.stride()[1], b.stride()[2]); }
            if (transposedIsFaster(m, n, k)) gemmTransposed(a, b, out, la, lb, batch, m, n, k, dt);
            else gemm(a, b, out, la, lb, batch, m, n, k, dt);
        } finally {
            if (copyA != null) copyA.close();
            if (copyB != null) copyB.close();
        }
        return out;
    }

    private static void gemm(Tensor a, Tensor b, Tensor out, Layout la, Layout lb, int batch, int m, int n, int k, DType dt) {
        CpuStorage sa = (CpuStorage) a.storage(), sb = (CpuStorage) b.storage(), sc = (CpuStorage) out.storage();
        // one buffer each (else floats("matmul") fails naming the op), so every element index fits an int
        long bsA = a.stride()[0], bsB = b.stride()[0], offA0 = a.offset(), offB0 = b.offset();
        Layout fa = la, fb = lb;
        // Small products (attention heads, small layers) run one per worker, whole; a large one is split by Blas.sgemm.
        boolean several = batch > 1 && 2L * m * n * k < SMALL_GEMM_FLOPS;
        Parallel.RangeBody gemms = (lo, hi) -> {
            for (long i = lo; i < hi; i++) {
                int offA = (int) (offA0 + i * bsA), offB = (int) (offB0 + i * bsB), offC = (int) (i * m * n);
                if (dt == DType.FLOAT32 && several)
                    Blas.sgemmSingle(fa.trans, fb.trans, m, n, k, sa.floats("matmul"), offA, fa.ld, sb.floats("matmul"), offB, fb.ld, 0f, sc.floats("matmul"), offC, n);
                else if (dt == DType.FLOAT32)
                    Blas.sgemm(fa.trans, fb.trans, m, n, k, sa.floats("matmul"), offA, fa.ld, sb.floats("matmul"), offB, fb.ld, 0f, sc.floats("matmul"), offC, n);
                else
                    Blas.dgemm(fa.trans, fb.trans, m, n, k, sa.doubles("matmul"), offA, fa.ld, sb.doubles("matmul"), offB, fb.ld, 0.0, sc.doubles("matmul"), offC, n);
            }
        };
        if (several) Parallel.forRange(batch, 1, gemms);
        else gemms.run(0, batch);
    }

    /**
     * A short, wide product over a long inner dim (a convolution's weight gradient: O x C*kh*kw over N*OH*OW):
     * OpenBLAS runs the transposed problem B^T A^T about 2x faster there (16 x 72 over 2048: 150 -> 80 us), and
     * the result is small enough that transposing it back costs next to nothing.
     */
    static boolean transposedIsFaster(int m, int n, int k) { return m < n && k >= 8L * n && (long) m * n <= 1 << 16; }

    /** out = a b computed as (b^T a^T)^T: the same operands read through flipped layouts, then the small result transposed into out. */
    private static void gemmTransposed(Tensor a, Tensor b, Tensor out, Layout la, Layout lb, int batch, int m, int n, int k, DType dt) {
        try (Tensor t = CpuBackend.empty(dt, new int[] {batch, n, m})) {           // (b^T a^T), (batch, n, m)
            gemm(b, a, t, new Layout(!lb.trans, lb.ld), new Layout(!la.trans, la.ld), batch, n, m, k, dt);
            CpuBackend.INSTANCE.copy(t.transpose(1, 2), out);
        }
    }

    /** Below this many flops per product, a batch runs one whole product per worker rather than splitting each. */
    static final long SMALL_GEMM_FLOPS = Long.getLong("fluxion.blas.smallGemmFlops", 1L << 24);

    private static Tensor widen(Tensor t) {
        Tensor f = CpuBackend.empty(DType.FLOAT32, t.shape());
        CpuBackend.INSTANCE.copy(t, f);
        return f;
    }

}
