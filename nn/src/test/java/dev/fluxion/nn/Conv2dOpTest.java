package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.AvgPool2dOp;
import dev.fluxion.tensor.Conv2dOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.Window2d;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fused {@link Conv2dOp} and {@link AvgPool2dOp} (what a GPU runs: one op, its own backward rule) applied
 * directly to CPU tensors against the CPU's recorded im2col path (what nn's conv2d and avgPool2d record there):
 * outputs and every gradient, over groups, stride, dilation, padding (asymmetric too), with and without bias, in
 * float64 and float32; their backward rules by float64 finite differences; only the gradients asked for; errors.
 */
class Conv2dOpTest {
    @AfterEach
    void clearTape() { Autodiff.tape().clear(); }

    /** x shape, weight shape, window, groups: the geometries every test here runs. */
    private record Case(String name, int[] x, int[] w, Window2d win, int groups) {}

    private static final Case[] CASES = {
            new Case("3x3 pad 1", new int[] {2, 3, 6, 5}, new int[] {4, 3, 3, 3}, Window2d.of(3, 3, 1, 1, 1, 1, 1, 1), 1),
            new Case("1x1", new int[] {2, 4, 3, 3}, new int[] {5, 4, 1, 1}, Window2d.of(1, 1, 1, 1, 0, 0, 1, 1), 1),
            new Case("stride 2, groups 2", new int[] {2, 4, 7, 6}, new int[] {6, 2, 3, 3}, Window2d.of(3, 3, 2, 2, 1, 1, 1, 1), 2),
            new Case("dilation 2, rectangular", new int[] {1, 2, 8, 7}, new int[] {3, 2, 2, 3}, Window2d.of(2, 3, 1, 2, 2, 1, 2, 2), 1),
            new Case("depthwise", new int[] {2, 3, 5, 5}, new int[] {3, 1, 3, 3}, Window2d.of(3, 3, 1, 1, 1, 1, 1, 1), 3),
            new Case("asymmetric padding (same, even kernel)", new int[] {1, 2, 5, 6}, new int[] {2, 2, 2, 4}, new Window2d(2, 4, 1, 1, 0, 1, 1, 2, 1, 1), 1),
    };

    /** The recorded path nn's conv2d takes on the CPU. */
    private static Tensor recorded(Case c, Tensor x, Tensor w, Tensor b) { return Convolutions.conv2d(x, w, b, c.win(), c.groups()); }

    private static Tensor fused(Case c, Tensor x, Tensor w, Tensor b) {
        return b == null ? new Conv2dOp(c.win(), c.groups()).apply(x, w) : new Conv2dOp(c.win(), c.groups()).apply(x, w, b);
    }

    @Test void conv2dOpMatchesTheRecordedPathForwardAndBackward() {
        Generator g = new Generator(11);
        for (Case c : CASES)
            for (DType dt : new DType[] {DType.FLOAT64, DType.FLOAT32})
                for (boolean withBias : new boolean[] {true, false}) {
                    Tensor x = Tensor.randn(g, DType.FLOAT64, c.x()).to(dt), w = Tensor.randn(g, DType.FLOAT64, c.w()).to(dt);
                    Tensor b = withBias ? Tensor.randn(g, DType.FLOAT64, c.w()[0]).to(dt) : null;
                    String what = c.name() + " " + dt + (withBias ? " bias" : " no bias");
                    Tensor[] a = leaves(x, w, b), f = leaves(x, w, b);
                    Tensor ya = recorded(c, a[0], a[1], a[2]), yf = fused(c, f[0], f[1], f[2]);
                    Tensor r = Tensor.randn(g, DType.FLOAT64, ya.shape()).to(dt);
                    ya.mul(r).sum().backward();
                    yf.mul(r).sum().backward();
                    double tol = dt == DType.FLOAT64 ? 1e-12 : 1e-5;
                    close(what + " y", ya, yf, tol);
                    String[] names = {"dx", "dweight", "dbias"};
                    for (int i = 0; i < 3; i++) if (a[i] != null) close(what + " " + names[i], a[i].grad(), f[i].grad(), tol);
                    Autodiff.tape().clear();
                }
    }

    @Test void conv2dOpBackwardPassesFiniteDifferences() {
        Generator g = new Generator(12);
        for (Case c : CASES) {
            Function<Tensor[], Tensor> withBias = t -> fused(c, t[0], t[1], t[2]), noBias = t -> fused(c, t[0], t[1], null);
            Tensor x = Tensor.randn(g, DType.FLOAT64, c.x()), w = Tensor.randn(g, DType.FLOAT64, c.w()), b = Tensor.randn(g, DType.FLOAT64, c.w()[0]);
            ConvolutionGradTest.gradCheck("conv2d " + c.name(), withBias, x, w, b);
            ConvolutionGradTest.gradCheck("conv2d no bias " + c.name(), noBias, x, w);
        }
    }

    @Test void conv2dOpComputesOnlyTheGradientsAskedFor() {
        Generator g = new Generator(13);
        Case c = CASES[2];
        Tensor x = Tensor.randn(g, DType.FLOAT64, c.x()), w = Tensor.randn(g, DType.FLOAT64, c.w()), b = Tensor.randn(g, DType.FLOAT64, c.w()[0]);
        for (int need = 1; need < 8; need++) {
            Tensor[] t = {x.detach().copy(), w.detach().copy(), b.detach().copy()};
            for (int i = 0; i < 3; i++) if ((need >> i & 1) != 0) t[i].requiresGrad(true);
            fused(c, t[0], t[1], t[2]).sum().backward();
            for (int i = 0; i < 3; i++) {
                if ((need >> i & 1) != 0) assertNotNull(t[i].grad(), "input " + i + " asked for, mask " + need);
                else assertNull(t[i].grad(), "input " + i + " not asked for, mask " + need);
            }
            Autodiff.tape().clear();
        }
    }

    @Test void avgPool2dOpMatchesTheRecordedPathAndFiniteDifferences() {
        Generator g = new Generator(14);
        Window2d[] windows = {Window2d.of(2, 2, 2, 2, 0, 0, 1, 1), Window2d.of(3, 3, 2, 2, 1, 1, 1, 1), Window2d.of(3, 2, 1, 2, 1, 0, 1, 1),
                new Window2d(2, 3, 1, 1, 0, 1, 1, 2, 2, 1)};
        for (Window2d win : windows) {
            for (DType dt : new DType[] {DType.FLOAT64, DType.FLOAT32}) {
                Tensor x = Tensor.randn(g, DType.FLOAT64, 2, 3, 7, 6).to(dt);
                Tensor xa = x.detach().copy().requiresGrad(true), xf = x.detach().copy().requiresGrad(true);
                Tensor ya = Convolutions.avgPool2d(xa, win), yf = new AvgPool2dOp(win).apply(xf);
                Tensor r = Tensor.randn(g, DType.FLOAT64, ya.shape()).to(dt);
                ya.mul(r).sum().backward();
                yf.mul(r).sum().backward();
                double tol = dt == DType.FLOAT64 ? 1e-12 : 1e-5;
                close("avgPool2d " + win + " " + dt + " y", ya, yf, tol);
                close("avgPool2d " + win + " " + dt + " dx", xa.grad(), xf.grad(), tol);
                Autodiff.tape().clear();
            }
            ConvolutionGradTest.gradCheck("avgPool2d " + win, t -> new AvgPool2dOp(win).apply(t[0]), Tensor.randn(g, DType.FLOAT64, 2, 2, 5, 6));
        }
    }

    @Test void secondDerivativesThroughTheFusedConvolution() {
        Tensor w = Tensor.randn(new Generator(15), DType.FLOAT64, 3, 2, 2, 2);
        Conv2dOp op = new Conv2dOp(Window2d.of(2, 2, 1, 1, 1, 1, 1, 1), 1);
        Function<Tensor[], Tensor> grad = x -> {
            try (var on = Autodiff.enableGrad()) {
                Tensor in = x[0].requiresGrad() ? x[0] : x[0].detach().requiresGrad(true);
                Tensor y = op.apply(in, w);
                return Autodiff.grad(new Tensor[] {y.mul(y).sum()}, new Tensor[] {in}, null, true, true, false)[0];
            }
        };
        ConvolutionGradTest.gradCheck("conv2d second derivative", grad, Tensor.randn(new Generator(16), DType.FLOAT64, 1, 2, 4, 4));
    }

    @Test void onTheCpuNnRecordsTheIm2colPathAndTheFusedOpIsOneEntry() {
        Tensor x = Tensor.randn(new Generator(17), 1, 2, 5, 5).requiresGrad(true), w = Tensor.randn(new Generator(18), 3, 2, 3, 3).requiresGrad(true);
        Autodiff.tape().clear();
        Functional.conv2d(x, w, null, ConvOptions.DEFAULT.withPadding(1));
        String recorded = Autodiff.tape().toString();
        assertTrue(recorded.contains("im2col") && !recorded.contains("conv2d"), "the CPU keeps its tuned recorded path:\n" + recorded);
        Autodiff.tape().clear();
        new Conv2dOp(Window2d.of(3, 3, 1, 1, 1, 1, 1, 1), 1).apply(x, w);
        assertEquals(1, Autodiff.tape().size(), "the fused op is one tape entry:\n" + Autodiff.tape());
        assertTrue(Autodiff.tape().toString().contains("conv2d"), Autodiff.tape().toString());
    }

    @Test void badInputsNameTheOpTheValuesAndTheExpectation() {
        Window2d win = Window2d.of(3, 3, 1, 1, 1, 1, 1, 1);
        Tensor x = Tensor.zeros(1, 4, 5, 5), w = Tensor.zeros(2, 2, 3, 3);
        assertMessage(() -> new Conv2dOp(win, 1).apply(x, w), "conv2d:", "[1, 4, 5, 5]", "(O, C/groups, kh, kw)");
        assertMessage(() -> new Conv2dOp(win, 0), "conv2d:", "groups must be positive, got 0");
        assertMessage(() -> new Conv2dOp(win, 2).apply(x, Tensor.zeros(2, 2, 2, 2)), "conv2d:", "does not match the window");
        assertMessage(() -> new Conv2dOp(win, 2).apply(x, w, Tensor.zeros(3)), "conv2d:", "bias must be [2]", "[3]");
        assertMessage(() -> new Conv2dOp(win, 2).apply(x, w.to(DType.FLOAT64)), "conv2d:", "float32", "float64");
        assertMessage(() -> new Conv2dOp(win, 2).apply(x.to(DType.INT32), w.to(DType.INT32)), "conv2d:", "int32");
        assertMessage(() -> new Conv2dOp(Window2d.of(7, 7, 1, 1, 0, 0, 1, 1), 1).apply(x, Tensor.zeros(2, 4, 7, 7)), "conv2d:", "smaller than the dilated kernel");
        assertMessage(() -> new AvgPool2dOp(win).apply(Tensor.zeros(4, 5, 5)), "avgPool2d:", "(N, C, H, W)", "[4, 5, 5]");
        assertMessage(() -> new AvgPool2dOp(win).apply(Tensor.zeros(1, 1, 5, 5).to(DType.INT64)), "avgPool2d:", "int64");
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable call, String... parts) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String p : parts) assertTrue(e.getMessage().contains(p), "message \"" + e.getMessage() + "\" should contain \"" + p + "\"");
    }

    private static Tensor[] leaves(Tensor x, Tensor w, Tensor b) {
        return new Tensor[] {x.detach().copy().requiresGrad(true), w.detach().copy().requiresGrad(true), b == null ? null : b.detach().copy().requiresGrad(true)};
    }

    private static void close(String what, Tensor expected, Tensor actual, double tol) {
        assertArrayEquals(expected.shape(), actual.shape(), what + " shape");
        double[] e = expected.to(DType.FLOAT64).contiguous().toDoubleArray(), a = actual.to(DType.FLOAT64).contiguous().toDoubleArray();
        for (int i = 0; i < e.length; i++) assertEquals(e[i], a[i], tol * Math.max(1, Math.abs(e[i])), what + " element " + i);
    }
}
