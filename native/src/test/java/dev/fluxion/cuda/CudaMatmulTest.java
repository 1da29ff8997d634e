package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static dev.fluxion.cuda.CudaTesting.FLOATS;
import static dev.fluxion.cuda.CudaTesting.assertClose;
import static dev.fluxion.cuda.CudaTesting.input;

/** matmul through cuBLAS (and the fallback kernel) against OpenBLAS, for every float dtype and layout. */
@Tag("gpu")
class CudaMatmulTest {
    static Device gpu;

    @BeforeEach void device() { gpu = CudaTesting.gpu(); }

    @AfterEach void restore() {
        CudaMatmul.forceFallback = false;
        CudaBackend.setAllowTf32(false);
    }

    private static double tol(DType dt, int k) {
        return switch (dt) {
            case FLOAT64 -> 1e-12 * k;
            case FLOAT32 -> 2e-6 * k;
            case FLOAT16 -> 2e-3 * Math.sqrt(k);
            case BFLOAT16 -> 1.6e-2 * Math.sqrt(k);
            default -> 0;
        };
    }

    private void everyLayout(String path) {
        Generator g = new Generator(21);
        for (DType dt : FLOATS) {
            Tensor a = input(g, dt, 3, 17, 29), b = input(g, dt, 3, 29, 11), bt = input(g, dt, 3, 11, 29), w = input(g, dt, 29, 11);
            double t = tol(dt, 29);
            String p = path + " " + dt;
            assertClose(a.matmul(b), a.to(gpu).matmul(b.to(gpu)), t, t, p + " batched");
            assertClose(a.matmul(bt.transpose(1, 2)), a.to(gpu).matmul(bt.to(gpu).transpose(1, 2)), t, t, p + " transposed right");
            Tensor at = a.transpose(1, 2).contiguous();
            assertClose(at.transpose(1, 2).matmul(b), at.to(gpu).transpose(1, 2).matmul(b.to(gpu)), t, t, p + " transposed left");
            assertClose(a.matmul(w), a.to(gpu).matmul(w.to(gpu)), t, t, p + " broadcast batch");
            assertClose(a.slice(2, 0, 29, 2).matmul(b.slice(1, 0, 29, 2)), a.to(gpu).slice(2, 0, 29, 2).matmul(b.to(gpu).slice(1, 0, 29, 2)), t, t, p + " gapped");
            Tensor v = input(g, dt, 29);
            assertClose(w.t().matmul(v), w.to(gpu).t().matmul(v.to(gpu)), t, t, p + " matrix-vector");
            Tensor big = input(g, dt, 256, 512), big2 = input(g, dt, 512, 384);
            double tb = tol(dt, 512);
            assertClose(big.matmul(big2), big.to(gpu).matmul(big2.to(gpu)), tb, tb, p + " 256x512x384");
        }
        Tensor e = Tensor.zeros(2, 0), f = Tensor.zeros(0, 3);
        assertClose(e.matmul(f), e.to(gpu).matmul(f.to(gpu)), "k = 0");
    }

    @Test void cublas() { everyLayout("cuBLAS"); }

    @Test void fallbackKernel() {
        CudaMatmul.forceFallback = true;
        everyLayout("fallback");
    }

    @Test void tf32IsOptIn() {
        Generator g = new Generator(22);
        Tensor a = input(g, DType.FLOAT32, 64, 1024), b = input(g, DType.FLOAT32, 1024, 64);
        CudaBackend.setAllowTf32(true);
        assertClose(a.matmul(b), a.to(gpu).matmul(b.to(gpu)), 5e-3, 5e-2, "TF32");   // 10-bit mantissa inputs
    }
}
