package dev.fluxion.cuda;

import dev.fluxion.nn.Functional;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sliding-window kernels of window.cu on a GPU against the CPU: im2col against unfold, col2im as its exact
 * adjoint, a convolution as weight @ im2col (cuBLAS) against the CPU's conv2d, max pooling and its gradient
 * against the CPU's max pool and autodiff, padded / dilated windows through their indices, and the nn-level conv2d +
 * max pool (forward and backward) reaching these kernels through the fused ops' CUDA registrations (with cuDNN
 * switched off, so that conv2d takes its im2col path).
 */
@Tag("gpu")
class CudaWindowsTest {
    private static CudaWindows.Geometry sym(int k, int s, int p) { return new CudaWindows.Geometry(k, k, s, s, p, p, p, p, 1, 1); }

    @Test void im2colMatchesUnfold() {
        Device gpu = CudaTesting.gpu();
        Tensor x = Tensor.randn(new Generator(1), DType.FLOAT64, 2, 3, 7, 6);
        for (int[] ksp : new int[][] {{3, 1, 1}, {3, 2, 1}, {2, 2, 0}, {1, 1, 0}}) {
            int k = ksp[0];
            Tensor u = Functional.unfold(x, k, k, ksp[1], ksp[2]);          // (N, C, L, K)
            Tensor want = u.permute(1, 3, 0, 2).contiguous().reshape(3 * k * k, 2 * u.size(2));
            for (DType dt : CudaTesting.FLOATS) {
                Tensor got = CudaWindows.im2col(x.to(dt).to(gpu), sym(k, ksp[1], ksp[2]));
                CudaTesting.assertClose(want.to(dt), got, 0, 0, "im2col " + dt + " k" + k + " s" + ksp[1] + " p" + ksp[2]);
            }
        }
    }

    @Test void col2imIsTheAdjointOfIm2col() {
        Device gpu = CudaTesting.gpu();
        Generator g = new Generator(2);
        CudaWindows.Geometry[] geometries = {sym(3, 1, 1), new CudaWindows.Geometry(3, 2, 2, 3, 1, 0, 1, 1, 2, 1), new CudaWindows.Geometry(1, 3, 1, 1, 0, 0, 1, 1, 1, 2)};
        for (CudaWindows.Geometry w : geometries) {
            int n = 2, c = 3, h = 9, wd = 8;
            Tensor x = Tensor.randn(g, DType.FLOAT64, n, c, h, wd).to(gpu);
            Tensor cols = CudaWindows.im2col(x, w);
            Tensor y = Tensor.randn(g, DType.FLOAT64, cols.shape()).to(gpu);
            double lhs = cols.mul(y).sum().item(), rhs = x.mul(CudaWindows.col2im(y, n, c, h, wd, w)).sum().item();
            assertEquals(lhs, rhs, 1e-9 * Math.max(1, Math.abs(lhs)), "<im2col x, y> = <x, col2im y> for " + w);
        }
    }

    @Test void convolutionAsOneGemmOverIm2colMatchesTheCpu() {
        Device gpu = CudaTesting.gpu();
        Generator g = new Generator(3);
        Tensor x = Tensor.randn(g, DType.FLOAT32, 2, 3, 10, 9), weight = Tensor.randn(g, DType.FLOAT32, 5, 3, 3, 3), bias = Tensor.randn(g, DType.FLOAT32, 5);
        Tensor want = Functional.conv2d(x, weight, bias, 2, 1);             // (N, O, OH, OW)
        Tensor cols = CudaWindows.im2col(x.to(gpu), sym(3, 2, 1));
        int oh = want.size(2), ow = want.size(3);
        Tensor got = weight.to(gpu).reshape(5, 27).matmul(cols).reshape(5, 2, oh, ow).permute(1, 0, 2, 3).add(bias.to(gpu).reshape(1, 5, 1, 1));
        CudaTesting.assertClose(want, got.contiguous(), 1e-4, 1e-4, "conv2d");
    }

    @Test void maxPoolAndItsGradientMatchTheCpu() {
        Device gpu = CudaTesting.gpu();
        Generator g = new Generator(4);
        for (int[] ks : new int[][] {{2, 2}, {3, 2}, {3, 1}}) {
            Tensor x = Tensor.randn(g, DType.FLOAT32, 2, 3, 8, 9), gy;
            Tensor xr = x.detach().requiresGrad(true);
            Tensor want = Functional.maxPool2d(xr, ks[0], ks[1]);
            gy = Tensor.randn(g, DType.FLOAT32, want.shape());
            want.mul(gy).sum().backward();
            CudaWindows.Pooled p = CudaWindows.maxPool(x.to(gpu), sym(ks[0], ks[1], 0));
            CudaTesting.assertClose(want.detach(), p.y(), 0, 0, "max pool k" + ks[0] + " s" + ks[1]);
            Tensor dx = CudaWindows.maxPoolBackward(gy.to(gpu), p.indices(), 2, 3, 8, 9, sym(ks[0], ks[1], 0));
            CudaTesting.assertClose(xr.grad(), dx, 1e-6, 1e-6, "max pool gradient k" + ks[0] + " s" + ks[1]);
        }
    }

    @Test void paddedAndDilatedPoolsPointAtTheirMaxima() {
        Device gpu = CudaTesting.gpu();
        Tensor x = Tensor.randn(new Generator(5), DType.BFLOAT16, 2, 2, 9, 7).to(gpu);
        for (CudaWindows.Geometry w : new CudaWindows.Geometry[] {sym(3, 2, 1), new CudaWindows.Geometry(3, 3, 1, 2, 1, 1, 0, 1, 2, 1)}) {
            CudaWindows.Pooled p = CudaWindows.maxPool(x, w);
            Tensor atIdx = x.reshape(2, 2, 63).gather(2, p.indices().reshape(2, 2, -1)).reshape(p.y().shape());
            CudaTesting.assertClose(atIdx.to(Device.CPU), p.y(), 0, 0, "y is x at the indices for " + w);
            assertTrue(p.indices().min().item() >= 0 && p.indices().max().item() < 63, "indices inside the plane (padding never chosen)");
        }
    }

    @Test void conv2dAndMaxPool2dOnTheGpuRunTheWindowKernelsAndMatchTheCpu() {
        Device gpu = CudaTesting.gpu();
        CudaBackend.setCudnnEnabled(false);                           // conv2d's composed path: im2col + cuBLAS (CudnnTest covers cuDNN's)
        try {
            conv2dAndMaxPool2dThroughTheWindowKernels(gpu);
        } finally {
            CudaBackend.setCudnnEnabled(true);
        }
    }

    private static void conv2dAndMaxPool2dThroughTheWindowKernels(Device gpu) {
        CudaDevice d = CudaBackend.of(gpu).cudaDevice();
        Generator g = new Generator(6);
        Tensor x = Tensor.randn(g, DType.FLOAT32, 2, 3, 12, 11), w = Tensor.randn(g, DType.FLOAT32, 4, 3, 3, 3), b = Tensor.randn(g, DType.FLOAT32, 4);
        Tensor[] cpu = {x.detach().requiresGrad(true), w.detach().requiresGrad(true), b.detach().requiresGrad(true)};
        Tensor[] dev = {x.to(gpu).requiresGrad(true), w.to(gpu).requiresGrad(true), b.to(gpu).requiresGrad(true)};
        long[] before = {d.kernels.launches("fx_im2col"), d.kernels.launches("fx_col2im"), d.kernels.launches("fx_max_pool_fwd"), d.kernels.launches("fx_max_pool_bwd")};
        Tensor gy = null;
        Tensor[] outs = new Tensor[2];
        for (int k = 0; k < 2; k++) {
            Tensor[] t = k == 0 ? cpu : dev;
            Tensor y = Functional.maxPool2d(Functional.conv2d(t[0], t[1], t[2], 1, 1), 3, 2, 1, 1);
            if (gy == null) gy = Tensor.randn(g, DType.FLOAT32, y.shape());
            y.mul(k == 0 ? gy : gy.to(gpu)).sum().backward();
            outs[k] = y.detach();
        }
        CudaTesting.assertClose(outs[0], outs[1], 1e-4, 1e-4, "conv2d + maxPool2d forward");
        String[] names = {"x", "weight", "bias"};
        for (int i = 0; i < 3; i++) CudaTesting.assertClose(cpu[i].grad(), dev[i].grad(), 1e-4, 1e-4, "gradient of " + names[i]);
        String[] kernels = {"fx_im2col", "fx_col2im", "fx_max_pool_fwd", "fx_max_pool_bwd"};
        for (int i = 0; i < 4; i++)
            assertTrue(d.kernels.launches(kernels[i]) > before[i], kernels[i] + " ran (the fused op's CUDA kernel, not its composed default)");
    }

    @Test void aNanIsTheMaximumOfItsWindow() {
        Device gpu = CudaTesting.gpu();
        float[] v = new float[16];
        for (int i = 0; i < 16; i++) v[i] = i;
        v[5] = Float.NaN;
        CudaWindows.Pooled p = CudaWindows.maxPool(Tensor.of(v, 1, 1, 4, 4).to(gpu), sym(2, 2, 0));
        float[] y = p.y().toFloatArray();
        assertTrue(Float.isNaN(y[0]), "the window holding the NaN gives NaN");
        assertEquals(7f, y[1]);
        assertEquals(5L, p.indices().toLongArray()[0], "its index is the NaN's");
    }
}
