package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * The window ops (im2col, col2im, max pool) by float64 finite differences (their composed defaults run in
 * float64), and the float32 CPU kernels against those float64 results, forward and backward.
 */
class ConvolutionGradTest {
    private static final Generator G = new Generator(5);

    @AfterEach
    void clearTape() { Autodiff.tape().clear(); }

    private static Tensor randn(int... shape) { return Tensor.randn(G, DType.FLOAT64, shape); }

    /** d sum(f(x) * r) / d x by central differences against autodiff, for every input. */
    static void gradCheck(String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
        Tensor[] xs = new Tensor[inputs.length];
        for (int i = 0; i < xs.length; i++) xs[i] = inputs[i].detach().copy().requiresGrad(true);
        Tensor y = f.apply(xs);
        Tensor r = Tensor.randn(new Generator(1), DType.FLOAT64, y.shape());
        y.mul(r).sum().backward();
        for (int i = 0; i < xs.length; i++) {
            double[] v = inputs[i].toDoubleArray(), analytic = xs[i].grad().toDoubleArray();
            for (int k = 0; k < v.length; k++) {
                double keep = v[k], h = 1e-6;
                v[k] = keep + h;
                double up = loss(f, inputs, i, v, r);
                v[k] = keep - h;
                double down = loss(f, inputs, i, v, r);
                v[k] = keep;
                double numeric = (up - down) / (2 * h);
                assertEquals(numeric, analytic[k], 1e-6 * Math.max(1, Math.abs(numeric)), name + ": gradient of input " + i + " element " + k);
            }
        }
        Autodiff.tape().clear();
    }

    private static double loss(Function<Tensor[], Tensor> f, Tensor[] inputs, int i, double[] v, Tensor r) {
        Tensor[] xs = inputs.clone();
        xs[i] = Tensor.of(v, inputs[i].shape());
        try (var off = Autodiff.noGrad()) {
            return f.apply(xs).mul(r).sum().item();
        }
    }

    /** The float32 kernels' output and gradients equal the float64 composed path's within float32 rounding. */
    static void kernelMatches(String name, Function<Tensor[], Tensor> f, Tensor... inputs64) {
        Tensor[] a = new Tensor[inputs64.length], b = new Tensor[inputs64.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = inputs64[i].detach().copy().requiresGrad(true);
            b[i] = inputs64[i].to(DType.FLOAT32).detach().requiresGrad(true);
        }
        Tensor y64 = f.apply(a), y32 = f.apply(b);
        Tensor r = Tensor.randn(new Generator(2), DType.FLOAT64, y64.shape());
        y64.mul(r).sum().backward();
        y32.mul(r.to(DType.FLOAT32)).sum().backward();
        close(name + " output", y64, y32);
        for (int i = 0; i < a.length; i++) close(name + " gradient " + i, a[i].grad(), b[i].grad());
        Autodiff.tape().clear();
    }

    private static void close(String what, Tensor expected, Tensor actual) {
        assertArrayEquals(expected.shape(), actual.shape(), what + " shape");
        double[] e = expected.toDoubleArray(), g = actual.to(DType.FLOAT64).toDoubleArray();
        for (int k = 0; k < e.length; k++) assertEquals(e[k], g[k], 1e-4 * Math.max(1, Math.abs(e[k])), what + " element " + k);
    }

    @TestFactory
    List<DynamicTest> windowOps() {
        List<DynamicTest> t = new ArrayList<>();
        ConvOptions d = ConvOptions.DEFAULT;
        ConvOptions rect = d.withStride(2, 1).withPadding(1, 2).withDilation(1, 2).withGroups(2);
        Function<Tensor[], Tensor> conv = x -> Functional.conv2d(x[0], x[1], x[2], rect);
        Function<Tensor[], Tensor> same = x -> Functional.conv2d(x[0], x[1], null, d.withPadding("same"));
        Function<Tensor[], Tensor> tconv = x -> Functional.convTranspose2d(x[0], x[1], x[2], d.withStride(2).withPadding(1).withGroups(2), 1, 0);
        Function<Tensor[], Tensor> conv1 = x -> Functional.conv1d(x[0], x[1], null, d.withStride(3).withDilation(2));
        Function<Tensor[], Tensor> maxPool = x -> Functional.maxPool2d(x[0], 3, 2, 1, 1);
        Function<Tensor[], Tensor> avgPool = x -> Functional.avgPool2d(x[0], 3, 2, 1);
        Function<Tensor[], Tensor> unfold = x -> Functional.unfold(x[0], 2, 3, 2, 1);
        Tensor x = randn(2, 4, 5, 6), w = randn(6, 2, 3, 2), b = randn(6);
        Tensor ws = randn(3, 4, 2, 4), wt = randn(4, 3, 3, 2), bt = randn(6);
        Tensor x1 = randn(2, 2, 11), w1 = randn(3, 2, 2);
        t.add(dynamicTest("conv2d stride, padding, dilation, groups", () -> gradCheck("conv2d", conv, x, w, b)));
        t.add(dynamicTest("conv2d same, even kernel", () -> gradCheck("conv2d same", same, x, ws)));
        t.add(dynamicTest("convTranspose2d", () -> gradCheck("convTranspose2d", tconv, x, wt, bt)));
        t.add(dynamicTest("conv1d", () -> gradCheck("conv1d", conv1, x1, w1)));
        t.add(dynamicTest("maxPool2d", () -> gradCheck("maxPool2d", maxPool, x)));
        t.add(dynamicTest("avgPool2d", () -> gradCheck("avgPool2d", avgPool, x)));
        t.add(dynamicTest("unfold", () -> gradCheck("unfold", unfold, x)));
        t.add(dynamicTest("float32 kernels: conv2d", () -> kernelMatches("conv2d", conv, x, w, b)));
        t.add(dynamicTest("float32 kernels: conv2d same", () -> kernelMatches("conv2d same", same, x, ws)));
        t.add(dynamicTest("float32 kernels: convTranspose2d", () -> kernelMatches("convTranspose2d", tconv, x, wt, bt)));
        t.add(dynamicTest("float32 kernels: maxPool2d", () -> kernelMatches("maxPool2d", maxPool, x)));
        t.add(dynamicTest("float32 kernels: conv on a transposed input", () -> kernelMatches("conv2d", y -> conv.apply(new Tensor[] {y[0].transpose(2, 3), y[1], y[2]}),
                randn(2, 4, 6, 5), w, b)));
        return t;
    }

    @Test
    void maxPoolTiesGiveTheWholeGradientToTheFirstMaximum() {
        for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT64}) {            // the CPU kernel and the composed default
            Tensor x = Tensor.of(new double[] {1, 1, 1, 1}, 1, 1, 2, 2).to(dt).requiresGrad(true);
            Functional.maxPool2d(x, 2, 2).sum().backward();
            assertArrayEquals(new double[] {1, 0, 0, 0}, x.grad().to(DType.FLOAT64).toDoubleArray(), dt + ": gradient on a window of ties");
            Autodiff.tape().clear();
        }
    }

    @Test
    void secondDerivativesThroughConvolutionAndPooling() {
        // g(x) = d sum(f(x)^2) / dx with a graph, then d sum(g(x) * r) / dx against float64 differences of g
        Tensor w = randn(3, 2, 2, 2);
        Function<Tensor[], Tensor> f = x -> Functional.maxPool2d(Functional.conv2d(x[0], w, null, ConvOptions.DEFAULT.withPadding(1)), 2, 2, 0, 1);
        Function<Tensor[], Tensor> grad = x -> {
            try (var on = Autodiff.enableGrad()) {                    // the finite differences run f under noGrad
                Tensor in = x[0].requiresGrad() ? x[0] : x[0].detach().requiresGrad(true);
                Tensor y = f.apply(new Tensor[] {in});
                return Autodiff.grad(new Tensor[] {y.mul(y).sum()}, new Tensor[] {in}, null, true, true, false)[0];
            }
        };
        gradCheck("second derivative", grad, randn(1, 2, 4, 4));
    }

    @Test
    void badArgumentsNameTheOp() {
        Tensor x = Tensor.zeros(1, 3, 4, 4), w = Tensor.zeros(2, 2, 3, 3);
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Functional.conv2d(x, w, null, ConvOptions.DEFAULT));
        assertTrue(e.getMessage().startsWith("conv2d:"), e.getMessage());
        var s = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Functional.conv2d(x, Tensor.zeros(2, 3, 3, 3), null, ConvOptions.DEFAULT.withPadding("same").withStride(2)));
        assertTrue(s.getMessage().contains("same"), s.getMessage());
    }
}
