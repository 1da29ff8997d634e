package dev.fluxion.cuda;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.AvgPool2d;
import dev.fluxion.nn.Conv2d;
import dev.fluxion.nn.ConvOptions;
import dev.fluxion.nn.Flatten;
import dev.fluxion.nn.Functional;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.MaxPool2d;
import dev.fluxion.nn.ReLU;
import dev.fluxion.nn.Sequential;
import dev.fluxion.optim.SGD;
import dev.fluxion.tensor.AvgPool2dOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.Window2d;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * cuDNN convolution and average pooling (CudnnConvolution, CudnnPooling) on a GPU against the CPU backend: forward
 * and every gradient over many geometries (groups, depthwise, 1x1, stride 2, dilation 2, rectangular kernels, no
 * bias) in float64 and float32 (TF32 off: true float32 math) and float16/bfloat16 (float accumulation, one output
 * rounding), each with a count of cuDNN calls proving cuDNN ran; asymmetric padding and dilated pooling declining
 * to the composed path and still matching; cuDNN switched off giving the same numbers through im2col + cuBLAS; the
 * plan cache staying bounded; workspaces returned to the pool; a second derivative through the composed rule; and a
 * conv net training step (conv, avg pool, max pool, linear, cross-entropy, SGD)
 * with no host synchronisation. Skips without a GPU; fails (not skips) on a GPU host without cuDNN.
 *
 * <p>Tolerances, relative to the largest magnitude of the float64 reference computed from the same (rounded)
 * inputs: float64 1e-10, float32 1e-4 (cuDNN may pick Winograd or FFT algorithms, whose float32 error is above a
 * direct sum's), float16 5e-3 and bfloat16 3e-2 (one rounding of the output: 2^-11 and 2^-8 relative).
 */
@Tag("gpu")
@SuppressWarnings("try")
class CudnnTest {
    @AfterEach
    void restore() {
        CudaBackend.setAllowTf32(false);
        CudaBackend.setCudnnEnabled(true);
        Autodiff.tape().clear();
    }

    /** The device and its cuDNN handle; fails with the reason when the GPU host has no cuDNN (the check must not pass without it). */
    private static Cudnn cudnn(Device gpu) {
        Cudnn dnn = Cudnn.of(CudaBackend.of(gpu).cudaDevice());
        if (dnn == null) fail("cuDNN is not available on this GPU host: " + Cudnn.reason());
        return dnn;
    }

    private static double tolerance(DType dt) {
        return switch (dt) { case FLOAT64 -> 1e-10; case FLOAT32 -> 1e-4; case FLOAT16 -> 5e-3; default -> 3e-2; };
    }

    /** x shape, weight shape, options, bias or not. */
    private record Conv(String name, int[] x, int[] w, ConvOptions options, boolean bias) {}

    private static final Conv[] CONVS = {
            new Conv("3x3 pad 1", new int[] {2, 8, 12, 10}, new int[] {16, 8, 3, 3}, ConvOptions.DEFAULT.withPadding(1), true),
            new Conv("1x1", new int[] {4, 16, 7, 7}, new int[] {8, 16, 1, 1}, ConvOptions.DEFAULT, true),
            new Conv("stride 2", new int[] {2, 8, 15, 14}, new int[] {16, 8, 3, 3}, ConvOptions.DEFAULT.withStride(2).withPadding(1), true),
            new Conv("dilation 2", new int[] {2, 4, 13, 12}, new int[] {8, 4, 3, 3}, ConvOptions.DEFAULT.withDilation(2).withPadding(2), true),
            new Conv("groups 2, no bias", new int[] {2, 8, 9, 9}, new int[] {12, 4, 3, 3}, ConvOptions.DEFAULT.withPadding(1).withGroups(2), false),
            new Conv("depthwise", new int[] {2, 16, 10, 10}, new int[] {16, 1, 3, 3}, ConvOptions.DEFAULT.withPadding(1).withGroups(16), true),
            new Conv("rectangular 5x3, stride (2, 1), padding (2, 1)", new int[] {1, 6, 11, 9}, new int[] {10, 6, 5, 3},
                    ConvOptions.DEFAULT.withStride(2, 1).withPadding(2, 1), false),
    };

    /** Output, dx, dweight, dbias (or null) of conv2d on the given tensors with output gradient g. */
    private static Tensor[] run(Conv c, Tensor x, Tensor w, Tensor b, Tensor g) {
        Tensor xl = x.detach().requiresGrad(true), wl = w.detach().requiresGrad(true), bl = b == null ? null : b.detach().requiresGrad(true);
        Tensor y = Functional.conv2d(xl, wl, bl, c.options());
        y.backward(g);
        Tensor[] out = {y.detach(), xl.grad(), wl.grad(), bl == null ? null : bl.grad()};
        Autodiff.tape().clear();
        return out;
    }

    @Test void convolutionForwardAndGradientsMatchTheCpuInEveryDtype() {
        Device gpu = CudaTesting.gpu();
        Cudnn dnn = cudnn(gpu);
        Generator gen = new Generator(1);
        String[] names = {"y", "dx", "dweight", "dbias"};
        for (Conv c : CONVS)
            for (DType dt : CudaTesting.FLOATS) {
                Tensor x = Tensor.randn(gen, DType.FLOAT64, c.x()).to(dt), w = Tensor.randn(gen, DType.FLOAT64, c.w()).to(dt);
                Tensor b = c.bias() ? Tensor.randn(gen, DType.FLOAT64, c.w()[0]).to(dt) : null;
                Tensor y0 = Functional.conv2d(x.to(DType.FLOAT64), w.to(DType.FLOAT64), b == null ? null : b.to(DType.FLOAT64), c.options());
                Tensor g = Tensor.randn(gen, DType.FLOAT64, y0.shape()).to(dt);
                Tensor[] want = run(c, x.to(DType.FLOAT64), w.to(DType.FLOAT64), b == null ? null : b.to(DType.FLOAT64), g.to(DType.FLOAT64));
                long[] before = counts(dnn);
                long declined = CudnnConvolution.declined();
                Tensor[] got = run(c, x.to(gpu), w.to(gpu), b == null ? null : b.to(gpu), g.to(gpu));
                long[] after = counts(dnn);
                String what = c.name() + " " + dt;
                for (int i = 0; i < 4; i++) if (want[i] != null) close(what + " " + names[i], want[i], got[i], tolerance(dt));
                assertEquals(declined, CudnnConvolution.declined(), what + ": cuDNN declined (" + CudnnConvolution.lastDecline() + ")");
                for (int i = 0; i < 3; i++) assertEquals(before[i] + 1, after[i], what + ": one call of each cuDNN convolution function");
            }
    }

    @Test void tf32AllowedIsItsOwnPlanAndStaysClose() {
        Device gpu = CudaTesting.gpu();
        Cudnn dnn = cudnn(gpu);
        Conv c = CONVS[0];
        Generator gen = new Generator(2);
        Tensor x = Tensor.randn(gen, DType.FLOAT32, c.x()), w = Tensor.randn(gen, DType.FLOAT32, c.w());
        Tensor want = Functional.conv2d(x.to(DType.FLOAT64), w.to(DType.FLOAT64), null, c.options());
        CudaBackend.setAllowTf32(true);
        int plans = dnn.cachedPlans();
        Tensor got = Functional.conv2d(x.to(gpu), w.to(gpu), null, c.options());
        close("tf32 3x3", want, got, 5e-3);                        // TF32: 10-bit mantissa inputs, float accumulation
        assertTrue(dnn.cachedPlans() > plans || plans == Cudnn.PLANS, "TF32 on is its own plan (its math type differs)");
    }

    @Test void asymmetricPaddingDeclinesToTheComposedPathAndStillMatches() {
        Device gpu = CudaTesting.gpu();
        Cudnn dnn = cudnn(gpu);
        Conv same = new Conv("same, even kernel", new int[] {2, 4, 9, 8}, new int[] {6, 4, 2, 4}, ConvOptions.DEFAULT.withPadding("same"), true);
        Generator gen = new Generator(3);
        Tensor x = Tensor.randn(gen, DType.FLOAT32, same.x()), w = Tensor.randn(gen, DType.FLOAT32, same.w()), b = Tensor.randn(gen, DType.FLOAT32, 6);
        Tensor g = Tensor.randn(gen, DType.FLOAT32, 2, 6, 9, 8);
        Tensor[] want = run(same, x.to(DType.FLOAT64), w.to(DType.FLOAT64), b.to(DType.FLOAT64), g.to(DType.FLOAT64));
        long declined = CudnnConvolution.declined(), forward = dnn.calls("cudnnConvolutionForward");
        Tensor[] got = run(same, x.to(gpu), w.to(gpu), b.to(gpu), g.to(gpu));
        assertTrue(CudnnConvolution.declined() >= declined + 2, "forward and backward declined");
        assertTrue(CudnnConvolution.lastDecline().startsWith("asymmetric padding"), CudnnConvolution.lastDecline());
        assertEquals(forward, dnn.calls("cudnnConvolutionForward"), "cuDNN did not run");
        for (int i = 0; i < 4; i++) close("same padding " + i, want[i], got[i], 1e-4);
    }

    @Test void cudnnSwitchedOffGivesTheSameNumbersThroughIm2col() {
        Device gpu = CudaTesting.gpu();
        CudaDevice d = CudaBackend.of(gpu).cudaDevice();
        cudnn(gpu);
        Conv c = CONVS[4];
        Generator gen = new Generator(4);
        Tensor x = Tensor.randn(gen, DType.FLOAT32, c.x()).to(gpu), w = Tensor.randn(gen, DType.FLOAT32, c.w()).to(gpu);
        Tensor g = Tensor.randn(gen, DType.FLOAT32, 2, 12, 9, 9).to(gpu);
        Tensor[] on = run(c, x, w, null, g);
        CudaBackend.setCudnnEnabled(false);
        long im2col = d.kernels.launches("fx_im2col");
        Tensor[] off = run(c, x, w, null, g);
        assertTrue(d.kernels.launches("fx_im2col") > im2col, "off: the window kernels ran");
        for (int i = 0; i < 3; i++) close("cuDNN on vs off " + i, off[i].to(Device.CPU).to(DType.FLOAT64), on[i], 1e-4);
    }

    @Test void workspacesAndTemporariesGoBackToThePool() {
        Device gpu = CudaTesting.gpu();
        Cudnn dnn = cudnn(gpu);
        CudaBackend be = CudaBackend.of(gpu);
        Conv c = CONVS[2];
        Generator gen = new Generator(9);
        Tensor x = Tensor.randn(gen, DType.FLOAT32, c.x()).to(gpu), w = Tensor.randn(gen, DType.FLOAT32, c.w()).to(gpu), b = Tensor.randn(gen, DType.FLOAT32, 16).to(gpu);
        Tensor g = Tensor.randn(gen, DType.FLOAT32, 2, 16, 8, 7).to(gpu);
        try (var scope = Scope.open()) { run(c, x, w, b, g); }      // warm-up: handles, plan
        be.synchronize();
        long base = be.memoryStats().inUse(), calls = dnn.calls("cudnnConvolutionBackwardFilter");
        for (int i = 0; i < 20; i++) try (var scope = Scope.open()) { run(c, x, w, b, g); }
        be.synchronize();
        assertEquals(calls + 20, dnn.calls("cudnnConvolutionBackwardFilter"), "cuDNN ran each step");
        assertEquals(base, be.memoryStats().inUse(), "device bytes after 20 scoped conv steps (workspaces freed): " + be.memoryStats());
    }

    @Test void aSecondDerivativeThroughTheConvolutionUsesTheComposedRuleAndMatches() {
        Device gpu = CudaTesting.gpu();
        cudnn(gpu);
        Generator gen = new Generator(10);
        Tensor x = Tensor.randn(gen, DType.FLOAT64, 1, 2, 5, 5), w = Tensor.randn(gen, DType.FLOAT64, 3, 2, 3, 3), r = Tensor.randn(gen, DType.FLOAT64, 1, 2, 5, 5);
        Tensor[] grads = new Tensor[2];
        for (int k = 0; k < 2; k++) {
            Device dev = k == 0 ? Device.CPU : gpu;
            Tensor xl = x.to(dev).requiresGrad(true), wl = w.to(dev);
            Tensor y = Functional.conv2d(xl, wl, null, ConvOptions.DEFAULT.withPadding(1));
            long declined = CudnnConvolution.declined();
            Tensor gx = Autodiff.grad(new Tensor[] {y.mul(y).sum()}, new Tensor[] {xl}, null, true, true, false)[0];
            if (k == 1) assertEquals("create-graph backward", CudnnConvolution.lastDecline(), "declined " + (CudnnConvolution.declined() - declined));
            gx.mul(r.to(dev)).sum().backward();
            grads[k] = xl.grad();
            Autodiff.tape().clear();
        }
        close("d/dx <d sum(conv(x)^2)/dx, r>", grads[0], grads[1], 1e-10);
    }

    @Test void thePlanCacheStaysBounded() {
        Device gpu = CudaTesting.gpu();
        Cudnn dnn = cudnn(gpu);
        Tensor w = Tensor.randn(new Generator(5), DType.FLOAT32, 2, 1, 1, 1).to(gpu);
        for (int h = 1; h <= Cudnn.PLANS + 6; h++)
            try (var scope = Scope.open()) { Functional.conv2d(Tensor.ones(1, 1, h, 1).to(gpu), w, null, ConvOptions.DEFAULT); }
        assertTrue(dnn.cachedPlans() <= Cudnn.PLANS, dnn.cachedPlans() + " plans cached");
        CudaBackend.of(gpu).synchronize();                        // the evicted plans' descriptors were destroyed without an error
    }

    @Test void averagePoolingMatchesTheCpuAndDeclinesWhereCudnnCannotSayTheWindow() {
        Device gpu = CudaTesting.gpu();
        Cudnn dnn = cudnn(gpu);
        Generator gen = new Generator(6);
        Window2d[] cudnnWindows = {Window2d.of(2, 2, 2, 2, 0, 0, 1, 1), Window2d.of(3, 3, 2, 2, 1, 1, 1, 1), Window2d.of(3, 2, 1, 2, 1, 0, 1, 1)};
        Window2d[] declined = {Window2d.of(2, 2, 1, 1, 0, 0, 2, 2), new Window2d(2, 2, 1, 1, 0, 1, 1, 0, 1, 1)};
        for (Window2d[] set : new Window2d[][] {cudnnWindows, declined})
            for (Window2d win : set)
                for (DType dt : CudaTesting.FLOATS) {
                    Tensor x = Tensor.randn(gen, DType.FLOAT64, 2, 3, 9, 8).to(dt);
                    Function<Tensor, Tensor[]> pool = in -> {
                        Tensor xl = in.detach().requiresGrad(true), y = new AvgPool2dOp(win).apply(xl);
                        y.backward(Tensor.ones(dt, y.device(), y.shape()).mul(0.5));
                        Tensor[] r = {y.detach(), xl.grad()};
                        Autodiff.tape().clear();
                        return r;
                    };
                    Tensor[] want = pool.apply(x.to(DType.FLOAT64));
                    long fwd = dnn.calls("cudnnPoolingForward"), bwd = dnn.calls("cudnnPoolingBackward"), dec = CudnnPooling.declined();
                    Tensor[] got = pool.apply(x.to(gpu));
                    String what = "avg pool " + win + " " + dt;
                    close(what + " y", want[0], got[0], tolerance(dt));
                    close(what + " dx", want[1], got[1], tolerance(dt));
                    boolean viaCudnn = set == cudnnWindows;
                    assertEquals(viaCudnn ? fwd + 1 : fwd, dnn.calls("cudnnPoolingForward"), what + ": cudnnPoolingForward calls");
                    assertEquals(viaCudnn ? bwd + 1 : bwd, dnn.calls("cudnnPoolingBackward"), what + ": cudnnPoolingBackward calls");
                    assertEquals(viaCudnn ? dec : dec + 2, CudnnPooling.declined(), what + ": declines");
                }
    }

    @Test void aConvNetTrainingStepRunsCudnnWithoutHostSyncs() {
        Device gpu = CudaTesting.gpu();
        Cudnn dnn = cudnn(gpu);
        CudaBackend be = CudaBackend.of(gpu);
        Init init = Init.seed(7).on(gpu);
        Sequential model = new Sequential(new Conv2d(3, 16, 3, 1, 1, true, init), new ReLU(), new AvgPool2d(2),
                new Conv2d(16, 32, 3, 1, 1, true, init), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(32 * 4 * 4, 10, true, init));
        var opt = new SGD(model.parameters(), SGD.Config.DEFAULT.withLr(0.05).withMomentum(0.9));
        Generator g = new Generator(8);
        Tensor x = Tensor.randn(g, DType.FLOAT32, 16, 3, 16, 16).to(gpu), y = Tensor.randint(g, 0, 10, 16).to(gpu);
        Tensor[] loss = new Tensor[1];
        Runnable step = () -> {
            try (var scope = Scope.open()) {
                loss[0] = Losses.crossEntropy(model.forward(x), y);
                opt.zeroGrad();
                loss[0].backward();
                opt.step();
                loss[0] = Scope.escape(loss[0]);
            }
        };
        step.run();                                                // warm-up: handles, plans, first allocations
        double first = loss[0].item();
        String[] fns = {"cudnnConvolutionForward", "cudnnConvolutionBackwardData", "cudnnConvolutionBackwardFilter", "cudnnPoolingForward", "cudnnPoolingBackward"};
        long[] before = new long[fns.length];
        for (int i = 0; i < fns.length; i++) before[i] = dnn.calls(fns[i]);
        long syncs = be.hostSyncCount();
        for (int i = 0; i < 3; i++) step.run();
        long during = be.hostSyncCount() - syncs;
        double last = loss[0].item();                              // values read only after counting
        assertEquals(0, during, "host synchronisations during 3 conv-net training steps");
        for (int i = 0; i < fns.length; i++) assertTrue(dnn.calls(fns[i]) > before[i], fns[i] + " ran in the steps");
        assertTrue(last < first, "the loss falls on one fixed batch: " + first + " -> " + last);
    }

    private static long[] counts(Cudnn dnn) {
        return new long[] {dnn.calls("cudnnConvolutionForward"), dnn.calls("cudnnConvolutionBackwardData"), dnn.calls("cudnnConvolutionBackwardFilter")};
    }

    /** |actual - expected| <= tol * max|expected| elementwise, actual (any device, any float dtype) against a float64 CPU reference. */
    private static void close(String what, Tensor expected, Tensor actual, double tol) {
        assertEquals(java.util.Arrays.toString(expected.shape()), java.util.Arrays.toString(actual.shape()), what + ": shape");
        double[] e = expected.to(DType.FLOAT64).contiguous().toDoubleArray(), a = actual.to(Device.CPU).to(DType.FLOAT64).contiguous().toDoubleArray();
        double scale = 0;
        for (double v : e) scale = Math.max(scale, Math.abs(v));
        double bound = tol * Math.max(scale, 1e-30);
        for (int i = 0; i < e.length; i++)
            if (!(Math.abs(a[i] - e[i]) <= bound))
                fail(what + ": element " + i + " is " + a[i] + ", expected " + e[i] + " (bound " + bound + " = " + tol + " x max " + scale + ")");
    }
}
