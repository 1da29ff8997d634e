package dev.fluxion.cuda;

import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * float16 / bfloat16 matmuls (autocast's GEMMs) go through cuBLASLt ({@link CublasLtGemm}) with float32
 * accumulation: they match a float32 GEMM of the same (rounded) inputs within one rounding of the output, on
 * contiguous, transposed, batch-broadcast and offset (2-byte aligned) operands, and agree with the
 * cublasGemmStridedBatchedEx path they replace; reductions under autocast accumulate and return float32.
 */
@Tag("gpu")
@SuppressWarnings("try")
class CublasLtGemmTest {
    private static final DType[] HALVES = {DType.BFLOAT16, DType.FLOAT16};

    @Test void contiguousTransposedAndBatchedMatchAFloat32Gemm() {
        Device gpu = CudaTesting.gpu();
        Generator g = new Generator(1);
        for (DType dt : HALVES) {
            check(gpu, dt, Tensor.randn(g, DType.FLOAT32, 64, 96), Tensor.randn(g, DType.FLOAT32, 96, 80), "contiguous");
            check(gpu, dt, Tensor.randn(g, DType.FLOAT32, 96, 64).transpose(0, 1), Tensor.randn(g, DType.FLOAT32, 80, 96).transpose(0, 1), "transposed");
            check(gpu, dt, Tensor.randn(g, DType.FLOAT32, 3, 33, 47), Tensor.randn(g, DType.FLOAT32, 3, 47, 29), "batched, odd sizes");
            check(gpu, dt, Tensor.randn(g, DType.FLOAT32, 4, 16, 64), Tensor.randn(g, DType.FLOAT32, 64, 32), "batch-broadcast weight");
        }
    }

    @Test void offsetViewsMatchAFloat32Gemm() {
        Device gpu = CudaTesting.gpu();
        Generator g = new Generator(2);
        for (DType dt : HALVES)
            for (int off : new int[] {1, 3, 8}) {           // 2, 6 and 16 bytes past the pool's 256-byte alignment
                int m = 40, k = 72, n = 56;
                // views at an offset into GPU storage (narrow + reshape keep the offset)
                Tensor a = Tensor.randn(g, DType.FLOAT32, off + m * k).to(gpu).to(dt).narrow(0, off, m * k).reshape(m, k);
                Tensor b = Tensor.randn(g, DType.FLOAT32, off + k * n).to(gpu).to(dt).narrow(0, off, k * n).reshape(k, n);
                assertEquals(off, a.offset(), "a is a view at an offset");
                check(gpu, dt, a, b, "offset " + off);
            }
    }

    @Test void agreesWithTheGemmExPath() {
        Device gpu = CudaTesting.gpu();
        Generator g = new Generator(3);
        Tensor a = Tensor.randn(g, DType.FLOAT32, 2, 128, 256).to(gpu).to(DType.BFLOAT16), b = Tensor.randn(g, DType.FLOAT32, 2, 256, 64).to(gpu).to(DType.BFLOAT16);
        Tensor lt = a.matmul(b), ex;
        CudaMatmul.forceGemmEx = true;
        try { ex = a.matmul(b); } finally { CudaMatmul.forceGemmEx = false; }
        CudaTesting.assertClose(ex.to(DType.FLOAT32).to(Device.CPU), lt.to(DType.FLOAT32), 1.6e-2, 3e-2, "cuBLASLt vs cublasGemmStridedBatchedEx");
    }

    @Test void autocastMatmulsRunThroughCublasLt() {
        Device gpu = CudaTesting.gpu();
        Generator g = new Generator(4);
        Tensor x = Tensor.randn(g, DType.FLOAT32, 8, 64).to(gpu), w = Tensor.randn(g, DType.FLOAT32, 64, 32).to(gpu);
        long before = CublasLtGemm.CALLS.sum();
        Tensor y;
        try (var ac = Autocast.open(DType.BFLOAT16)) { y = x.matmul(w); }
        assertEquals(DType.BFLOAT16, y.dtype());
        assertTrue(CublasLtGemm.CALLS.sum() > before, "the bfloat16 GEMM went through cuBLASLt");
        Tensor want = x.to(DType.BFLOAT16).to(DType.FLOAT32).matmul(w.to(DType.BFLOAT16).to(DType.FLOAT32));
        CudaTesting.assertClose(want.to(Device.CPU), y.to(DType.FLOAT32), 1.6e-2, 5e-2, "autocast matmul");
    }

    @Test void reductionsUnderAutocastAccumulateAndReturnFloat32() {
        Device gpu = CudaTesting.gpu();
        Tensor x = Tensor.randn(new Generator(5), DType.FLOAT64, 1 << 20).add(3);
        Tensor xb = x.to(DType.BFLOAT16).to(gpu);
        double want = xb.to(DType.FLOAT64).sum().item();                 // the exact sum of the bfloat16 values, in float64
        try (var ac = Autocast.open(DType.BFLOAT16)) {
            Tensor s = xb.sum(), m = xb.mean();
            assertEquals(DType.FLOAT32, s.dtype(), "sum under autocast");
            assertEquals(DType.FLOAT32, m.dtype(), "mean under autocast");
            // float32 accumulation: a bfloat16 running sum of 2^20 values near 3 would be off by percents
            assertEquals(want, s.item(), 1e-5 * Math.abs(want), "sum of 2^20 bfloat16 values");
            assertEquals(want / (1 << 20), m.item(), 1e-5 * Math.abs(want) / (1 << 20), "mean");
        }
    }

    /** a @ b in dt on the GPU against float32 on the GPU of the same dt-rounded inputs; the output rounds once to dt. */
    private static void check(Device gpu, DType dt, Tensor a, Tensor b, String what) {
        long before = CublasLtGemm.CALLS.sum();
        Tensor ah = a.to(gpu).to(dt), bh = b.to(gpu).to(dt);                 // no-ops for GPU tensors of dt (views stay views)
        Tensor got = ah.matmul(bh).to(DType.FLOAT32);
        Tensor want = ah.to(DType.FLOAT32).matmul(bh.to(DType.FLOAT32)).to(Device.CPU);
        double rtol = dt == DType.BFLOAT16 ? 1.6e-2 : 2e-3, atol = rtol * Math.sqrt(a.size(-1));
        CudaTesting.assertClose(want, got, rtol, atol, dt + " " + what);
        assertTrue(CublasLtGemm.CALLS.sum() > before, dt + " " + what + ": cuBLASLt ran");
    }
}
