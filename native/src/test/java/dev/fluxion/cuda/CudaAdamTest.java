package dev.fluxion.cuda;

import dev.fluxion.optim.Adam;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.Optimizer;
import dev.fluxion.tensor.AdamHyper;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static dev.fluxion.cuda.CudaTesting.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The fused multi-tensor Adam/AdamW kernel against PyTorch's update rule written out in double, and the
 * optimizers on the GPU (their group step goes through it) against the same optimizers on the CPU, bitwise.
 */
@Tag("gpu")
class CudaAdamTest {
    static Device gpu;

    @BeforeEach void device() { gpu = CudaTesting.gpu(); }

    /** torch.optim.Adam(W) single-tensor algorithm, in double. */
    static void reference(double[] p, double[] grad, double[] m, double[] v, int step, AdamHyper c, double scale) {
        double bc1 = 1 - Math.pow(c.beta1(), step), bc2 = 1 - Math.pow(c.beta2(), step);
        for (int i = 0; i < p.length; i++) {
            double gi = grad[i] * scale;
            if (c.decoupled()) p[i] *= 1 - c.lr() * c.weightDecay();
            else gi += c.weightDecay() * p[i];
            m[i] = c.beta1() * m[i] + (1 - c.beta1()) * gi;
            v[i] = c.beta2() * v[i] + (1 - c.beta2()) * gi * gi;
            p[i] -= c.lr() / bc1 * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + c.eps());
        }
    }

    @Test void matchesTheReferenceOverSteps() {
        Generator g = new Generator(51);
        int[] sizes = {3, 70_000, 1, 131_072};                               // crosses the 65536-element chunk size
        for (AdamHyper c : new AdamHyper[] {AdamHyper.ADAM.withWeightDecay(0.01), AdamHyper.ADAMW.withLr(1e-2)})
            for (DType gradType : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
                List<Tensor> ps = new ArrayList<>(), ms = new ArrayList<>(), vs = new ArrayList<>();
                List<double[]> rp = new ArrayList<>(), rm = new ArrayList<>(), rv = new ArrayList<>();
                for (int n : sizes) {
                    Tensor p = Tensor.randn(g, n);
                    ps.add(p.to(gpu));
                    ms.add(Tensor.zeros(DType.FLOAT32, gpu, n));
                    vs.add(Tensor.zeros(DType.FLOAT32, gpu, n));
                    rp.add(p.toDoubleArray());
                    rm.add(new double[n]);
                    rv.add(new double[n]);
                }
                for (int step = 1; step <= 3; step++) {
                    List<Tensor> gs = new ArrayList<>();
                    for (int i = 0; i < sizes.length; i++) {
                        Tensor grad = Tensor.randn(g, sizes[i]).to(gradType);
                        gs.add(grad.to(gpu));
                        reference(rp.get(i), grad.toDoubleArray(), rm.get(i), rv.get(i), step, c, 1);
                    }
                    FusedAdam.step(ps, gs, ms, vs, step, c, null, null);
                }
                for (int i = 0; i < sizes.length; i++) {
                    String what = (c.decoupled() ? "AdamW" : "Adam") + " grads " + gradType + " param " + i;
                    assertClose(Tensor.of(rp.get(i), sizes[i]).to(DType.FLOAT32), ps.get(i), 1e-5, 1e-6, what + " p");
                    assertClose(Tensor.of(rm.get(i), sizes[i]).to(DType.FLOAT32), ms.get(i), 1e-5, 1e-7, what + " m");
                    assertClose(Tensor.of(rv.get(i), sizes[i]).to(DType.FLOAT32), vs.get(i), 1e-5, 1e-9, what + " v");
                }
            }
    }

    @Test void gradScaleAndSkipFlagWorkOnTheDevice() {
        Generator g = new Generator(52);
        Tensor p0 = Tensor.randn(g, 100), grad = Tensor.randn(g, 100).mul(1024);
        Tensor p = p0.to(gpu), m = Tensor.zeros(DType.FLOAT32, gpu, 100), v = Tensor.zeros(DType.FLOAT32, gpu, 100);
        Tensor inv = Tensor.scalar(1.0 / 1024).to(gpu);
        FusedAdam.step(List.of(p), List.of(grad.to(gpu)), List.of(m), List.of(v), 1, AdamHyper.ADAM, inv, Tensor.scalar(Float.NaN).to(gpu));
        assertClose(p0, p, 0, 0, "skipped step leaves the parameters");
        FusedAdam.step(List.of(p), List.of(grad.to(gpu)), List.of(m), List.of(v), 1, AdamHyper.ADAM, inv, Tensor.scalar(0).to(gpu));
        double[] rp = p0.toDoubleArray();
        reference(rp, grad.toDoubleArray(), new double[100], new double[100], 1, AdamHyper.ADAM, 1.0 / 1024);
        assertClose(Tensor.of(rp, 100).to(DType.FLOAT32), p, 1e-5, 1e-6, "unscaled step");
        assertThrows(IllegalArgumentException.class,
                () -> FusedAdam.step(List.of(p), List.of(grad.to(gpu)), List.of(m.to(DType.FLOAT16)), List.of(v), 1, AdamHyper.ADAM, null, null));
        assertThrows(IllegalArgumentException.class,
                () -> FusedAdam.step(List.of(p), List.of(grad.to(gpu)), List.of(m), List.of(v), 1, AdamHyper.ADAM.withAmsgrad(true), null, null));
    }

    /**
     * With a device step count, a step skipped for an overflow changes nothing, the bias correction included: the
     * next real step is update number 1 (bf16 and fp32 parameters, fp32 state, amsgrad on and off), and nothing
     * is read back to the host on the way.
     */
    @Test void skippedStepsDoNotAdvanceTheDeviceStepCount() {
        Generator g = new Generator(54);
        for (boolean amsgrad : new boolean[] {false, true})
            for (DType pt : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
                AdamHyper h = AdamHyper.ADAMW.withLr(1e-2).withAmsgrad(amsgrad);
                Tensor p0 = Tensor.randn(g, 300).to(pt), grad = Tensor.randn(g, 300);
                Tensor p = p0.to(gpu), m = Tensor.zeros(DType.FLOAT32, gpu, 300), v = Tensor.zeros(DType.FLOAT32, gpu, 300);
                List<Tensor> vmax = amsgrad ? List.of(Tensor.zeros(DType.FLOAT32, gpu, 300)) : null;
                Tensor count = Tensor.zeros(DType.INT64, gpu, 1);
                long syncs = CudaBackend.of(gpu).hostSyncCount();
                FusedAdam.step(List.of(p), List.of(grad.to(gpu)), List.of(m), List.of(v), vmax, count, h, null, Tensor.scalar(Float.POSITIVE_INFINITY).to(gpu));
                FusedAdam.step(List.of(p), List.of(grad.to(gpu)), List.of(m), List.of(v), vmax, count, h, null, Tensor.scalar(0).to(gpu));
                org.junit.jupiter.api.Assertions.assertEquals(syncs, CudaBackend.of(gpu).hostSyncCount(), "no host wait");
                org.junit.jupiter.api.Assertions.assertEquals(1, count.toLongArray()[0], "one update done: the skipped one does not count");
                double[] rp = p0.toDoubleArray();
                reference(rp, grad.toDoubleArray(), new double[300], new double[300], 1, h, 1);   // amsgrad's first step equals Adam's
                double tol = pt == DType.FLOAT32 ? 1e-5 : 1e-2;
                assertClose(Tensor.of(rp, 300).to(pt), p, tol, tol, "first real update with bias correction of step 1, " + pt + (amsgrad ? " amsgrad" : ""));
                if (amsgrad) assertClose(v, vmax.get(0), 0, 0, "vmax after one update is v");
            }
    }

    /**
     * Adam/AdamW over a group of float32 parameters of several sizes (one without a gradient at some steps, so
     * step counts differ) on the GPU and on the CPU: adam.cu rounds each operation as the CPU kernel does, so
     * parameters and state agree bit for bit, amsgrad included (adam.cu keeps the running max of v).
     */
    @Test void optimizersOnTheGpuMatchTheCpuBitwise() {
        compareWithCpu(ps -> new Adam(ps, Adam.Config.DEFAULT.withLr(1e-2).withWeightDecay(0.1)));
        compareWithCpu(ps -> new AdamW(ps, AdamW.Config.DEFAULT.withLr(1e-2)));
        compareWithCpu(ps -> new AdamW(ps, AdamW.Config.DEFAULT.withLr(1e-2).withAmsgrad(true)));
    }

    private static void compareWithCpu(Function<List<Tensor>, Optimizer<?, ?>> make) {
        Generator g = new Generator(53);
        int[] sizes = {3, 70_000, 1, 4099};
        List<Tensor> cpu = new ArrayList<>(), dev = new ArrayList<>();
        for (int n : sizes) {
            Tensor p = Tensor.randn(g, n);
            cpu.add(p.copy().requiresGrad(true));
            dev.add(p.to(gpu).requiresGrad(true));
        }
        Optimizer<?, ?> onCpu = make.apply(cpu), onGpu = make.apply(dev);
        for (int step = 0; step < 4; step++) {
            onCpu.zeroGrad();
            onGpu.zeroGrad();
            for (int i = 0; i < sizes.length; i++) {
                if (i == 2 && step % 2 == 0) continue;
                Tensor grad = Tensor.randn(g, sizes[i]);
                cpu.get(i).setGrad(grad);
                dev.get(i).setGrad(grad.to(gpu));
            }
            onCpu.step();
            onGpu.step();
        }
        Map<String, Tensor> c = onCpu.stateDict(), d = onGpu.stateDict();
        for (String key : c.keySet()) {
            if (c.get(key).dtype().isFloatingPoint())
                assertArrayEquals(c.get(key).toDoubleArray(), d.get(key).to(Device.CPU).toDoubleArray(), 0, key);
        }
        for (int i = 0; i < sizes.length; i++)
            assertArrayEquals(cpu.get(i).toFloatArray(), dev.get(i).to(Device.CPU).toFloatArray(), 0f, "parameter " + i);
    }
}
