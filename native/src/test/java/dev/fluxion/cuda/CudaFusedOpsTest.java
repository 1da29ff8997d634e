package dev.fluxion.cuda;

import dev.fluxion.tensor.CrossEntropyOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.FusedKernels;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.LayerNormOp;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CUDA kernels registered for the fused ops (layer norm, softmax + cross-entropy) against the CPU:
 * the kernel runs (its state is [rows] float32), and loss and gradients through autodiff match.
 */
@Tag("gpu")
class CudaFusedOpsTest {
    @Test
    void layerNormAndCrossEntropyRunTheirKernelsAndMatchTheCpu() {
        Device gpu = CudaTesting.gpu();
        var ln = new LayerNormOp(1e-5);
        var ce = new CrossEntropyOp(-100, 0);
        assertNotNull(FusedKernels.kernel(ln, gpu), "layer norm kernel registered for CUDA");
        assertNotNull(FusedKernels.kernel(ce, gpu), "cross-entropy kernel registered for CUDA");
        Generator g = new Generator(9);
        Tensor x = Tensor.randn(g, 6, 10, 48), w = Tensor.randn(g, 48), b = Tensor.randn(g, 48), proj = Tensor.randn(g, 48, 33);
        Tensor targets = Tensor.randint(g, 0, 33, 60);
        targets = Tensor.where(Tensor.arange(60).lt(5), Tensor.full(-100, DType.INT64, Device.CPU), targets);   // 5 ignored rows
        FusedOp.Result r = FusedKernels.forward(ln, new Tensor[] {x.to(gpu), w.to(gpu), b.to(gpu)});
        assertArrayEquals(new int[] {60}, r.state()[0].shape(), "the kernel's mean is [rows]");

        Tensor[] cpu = {x.detach().requiresGrad(true), w.detach().requiresGrad(true), b.detach().requiresGrad(true)};
        Tensor[] dev = {x.to(gpu).requiresGrad(true), w.to(gpu).requiresGrad(true), b.to(gpu).requiresGrad(true)};
        Tensor lossCpu = ce.apply(cpu[0].layerNorm(cpu[1], cpu[2], 1e-5).reshape(60, 48).matmul(proj), targets);
        Tensor lossGpu = ce.apply(dev[0].layerNorm(dev[1], dev[2], 1e-5).reshape(60, 48).matmul(proj.to(gpu)), targets.to(gpu));
        assertEquals(lossCpu.item(), lossGpu.item(), 1e-5 * Math.abs(lossCpu.item()));
        lossCpu.backward();
        lossGpu.backward();
        for (int i = 0; i < 3; i++) {
            float[] a = cpu[i].grad().toFloatArray(), c = dev[i].grad().toFloatArray();
            double scale = 1e-12, err = 0;
            for (int k = 0; k < a.length; k++) { scale = Math.max(scale, Math.abs(a[k])); err = Math.max(err, Math.abs(a[k] - c[k])); }
            assertTrue(err <= 1e-4 * scale, "gradient of input " + i + ": max error " + err + " at scale " + scale);
        }
    }
}
