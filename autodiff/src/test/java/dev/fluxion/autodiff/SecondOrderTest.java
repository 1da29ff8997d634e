package dev.fluxion.autodiff;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Autodiff.grad: first gradients (of leaves and of an intermediate tensor) and, with createGraph,
 * Hessian-vector products, against torch.autograd.grad(create_graph=True) and against float64 central
 * differences of the gradient. Reference: autodiff/src/test/python/make_second_order_reference.py.
 */
class SecondOrderTest {
    private static JsonNode ref;
    private static Tensor x0, w0, vx, vw, y;

    /** loss and the intermediate h = x @ w; the same expressions as the reference script. */
    private record Out(Tensor loss, Tensor h) {}

    private static Out elementwise(Tensor x, Tensor w) {
        Tensor h = x.matmul(w);
        Tensor a = h.tanh().mul(h.sigmoid()).sub(h.neg().exp().div(h.pow(2).add(1)));
        Tensor b = h.add(0.1).relu().mul(x.pow(2).sum(1, true).add(1).log());
        return new Out(a.sum().add(b.mean()).add(w.pow(3).sum()).sub(x.div(3).mean()), h);
    }

    private static Out classifier(Tensor x, Tensor w) {
        Tensor h = x.matmul(w);
        Tensor nll = h.logSoftmax(1).gather(1, y.reshape(3, 1)).mean().neg();
        return new Out(nll.add(x.sum(0, false).mul(0.5).pow(2).sum()), h);
    }

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = SecondOrderTest.class.getResourceAsStream("/reference/second_order.json")) {
            ref = new ObjectMapper().readTree(in);
        }
        x0 = tensor(ref.get("x"));
        w0 = tensor(ref.get("w"));
        vx = tensor(ref.get("vx"));
        vw = tensor(ref.get("vw"));
        long[] ids = new long[ref.get("y").size()];
        for (int i = 0; i < ids.length; i++) ids[i] = ref.get("y").get(i).asLong();
        y = Tensor.of(ids, ids.length);
    }

    static Tensor tensor(JsonNode n) {
        int[] shape = new int[n.get("shape").size()];
        for (int i = 0; i < shape.length; i++) shape[i] = n.get("shape").get(i).asInt();
        double[] v = new double[n.get("data").size()];
        for (int i = 0; i < v.length; i++) v[i] = n.get("data").get(i).asDouble();
        return Tensor.of(v, shape);
    }

    static void assertClose(String what, double[] e, double[] a, double tol) {
        assertEquals(e.length, a.length, what + ": size");
        double scale = 1;
        for (double v : e) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < e.length; i++)
            if (!(Math.abs(e[i] - a[i]) <= tol * scale)) fail(what + ": element " + i + " expected " + e[i] + ", got " + a[i]);
    }

    private static Tensor[] hvp(BiFunction<Tensor, Tensor, Out> f, Tensor x, Tensor w) {
        Tensor[] g = Autodiff.grad(new Tensor[] {f.apply(x, w).loss()}, new Tensor[] {x, w}, null, true, true);
        assertTrue(g[0].requiresGrad() && g[1].requiresGrad(), "createGraph: the gradients are differentiable");
        return Autodiff.grad(g[0].mul(vx).sum().add(g[1].mul(vw).sum()), x, w);
    }

    private void check(String name, BiFunction<Tensor, Tensor, Out> f) {
        JsonNode r = ref.get("functions").get(name);
        Tensor x = x0.copy().requiresGrad(true), w = w0.copy().requiresGrad(true);
        Out o = f.apply(x, w);
        assertEquals(r.get("loss").asDouble(), o.loss().item(), 1e-12, name + " loss");
        Tensor[] g = Autodiff.grad(new Tensor[] {o.loss()}, new Tensor[] {x, w, o.h()}, null, false, false);
        assertClose(name + " d/dx", tensor(r.get("gx")).toDoubleArray(), g[0].toDoubleArray(), 1e-12);
        assertClose(name + " d/dw", tensor(r.get("gw")).toDoubleArray(), g[1].toDoubleArray(), 1e-12);
        assertClose(name + " d/dh (an intermediate)", tensor(r.get("gh")).toDoubleArray(), g[2].toDoubleArray(), 1e-12);
        assertNull(x.grad(), "grad() returns gradients, it does not accumulate them");
        assertTrue(!g[0].requiresGrad(), "without createGraph the gradients are plain tensors");

        Tensor[] hv = hvp(f, x, w);
        assertClose(name + " Hv x (PyTorch)", tensor(r.get("hvx")).toDoubleArray(), hv[0].toDoubleArray(), 1e-11);
        assertClose(name + " Hv w (PyTorch)", tensor(r.get("hvw")).toDoubleArray(), hv[1].toDoubleArray(), 1e-11);

        // float64 central differences of the gradient along (vx, vw)
        double eps = 1e-6;
        Tensor[] plus = grads(f, x0.add(vx.mul(eps)), w0.add(vw.mul(eps))), minus = grads(f, x0.sub(vx.mul(eps)), w0.sub(vw.mul(eps)));
        assertClose(name + " Hv x (finite differences)", plus[0].sub(minus[0]).div(2 * eps).toDoubleArray(), hv[0].toDoubleArray(), 1e-6);
        assertClose(name + " Hv w (finite differences)", plus[1].sub(minus[1]).div(2 * eps).toDoubleArray(), hv[1].toDoubleArray(), 1e-6);
    }

    private static Tensor[] grads(BiFunction<Tensor, Tensor, Out> f, Tensor x, Tensor w) {
        x.requiresGrad(true);
        w.requiresGrad(true);
        return Autodiff.grad(f.apply(x, w).loss(), x, w);
    }

    @Test void elementwiseMatmulAndReductions() { check("elementwise", SecondOrderTest::elementwise); }

    @Test void logSoftmaxAndGather() { check("classifier", SecondOrderTest::classifier); }

    @Test void thirdDerivativeOfAPolynomial() {
        Tensor x = Tensor.of(new double[] {0.5, -2}, 2).requiresGrad(true);
        Tensor f = x.pow(4).sum();                                       // f''' = 24 x
        Tensor g1 = Autodiff.grad(new Tensor[] {f}, new Tensor[] {x}, null, true, true)[0];
        Tensor g2 = Autodiff.grad(new Tensor[] {g1.sum()}, new Tensor[] {x}, null, true, true)[0];
        Tensor g3 = Autodiff.grad(g2.sum(), x)[0];
        assertClose("x^4 third derivative", new double[] {12, -48}, g3.toDoubleArray(), 1e-12);
    }

    @Test void sliceAndMaxAreDifferentiableTwice() {
        Tensor x = Tensor.randn(new Generator(3), DType.FLOAT64, 4, 3).requiresGrad(true);
        Tensor f = x.slice(0, 1, 3).pow(3).sum().add(x.max(1, false).pow(2).sum());
        Tensor g = Autodiff.grad(new Tensor[] {f}, new Tensor[] {x}, null, true, true)[0];
        Tensor v = Tensor.randn(new Generator(4), DType.FLOAT64, 4, 3);
        double[] hv = Autodiff.grad(g.mul(v).sum(), x)[0].toDoubleArray();
        double eps = 1e-6;
        double[] p = gradOf(x.detach().add(v.mul(eps))), m = gradOf(x.detach().sub(v.mul(eps)));
        double[] fd = new double[p.length];
        for (int i = 0; i < fd.length; i++) fd[i] = (p[i] - m[i]) / (2 * eps);
        assertClose("slice + max Hv", fd, hv, 1e-6);
    }

    private static double[] gradOf(Tensor x) {
        x = x.copy().requiresGrad(true);
        return Autodiff.grad(x.slice(0, 1, 3).pow(3).sum().add(x.max(1, false).pow(2).sum()), x)[0].toDoubleArray();
    }

    /** Hessian-vector products of many rules against float64 differences of the gradient (inputs in (0.5, 1.5), away from kinks). */
    @Test void everyCommonRuleIsDifferentiableTwice() {
        Tensor other = Tensor.rand(new Generator(11), DType.FLOAT64, 3, 4).add(0.5);
        Tensor idx = Tensor.of(new long[] {2, 0, 2}, 3);
        Map<String, Function<Tensor, Tensor>> fs = new java.util.LinkedHashMap<>();
        fs.put("sqrt rsqrt", x -> x.sqrt().add(x.rsqrt()).sum());
        fs.put("sin cos", x -> x.sin().mul(x.cos()).sum());
        fs.put("abs", x -> x.sub(1).abs().mul(x).sum());
        fs.put("softmax", x -> x.softmax(1).mul(other).sum());
        fs.put("logsumexp", x -> x.mul(x).logsumexp(1, false).sum());
        fs.put("where clamp", x -> Tensor.where(x.gt(1), x.pow(3), x.clamp(0.6, 1.4).mul(x)).sum());
        fs.put("maximum minimum", x -> x.maximum(other).mul(x).add(x.minimum(other).pow(2)).sum());
        fs.put("broadcast expand", x -> x.add(x.sum(0, true)).pow(2).add(x.mean(1, true).expand(3, 4).exp()).sum());
        fs.put("permute reshape", x -> x.transpose(0, 1).reshape(2, 6).pow(3).matmul(Tensor.ones(DType.FLOAT64, 6, 1)).sum());
        fs.put("cat split", x -> Tensor.cat(java.util.List.of(x, x.mul(x)), 0).split(2, 0).get(1).pow(2).sum());
        fs.put("indexSelect gather", x -> x.indexSelect(0, idx).pow(2).sum().add(x.gather(1, idx.reshape(3, 1)).exp().sum()));
        fs.put("norm", x -> x.norm().mul(x.norm(3, new int[] {1}, false).sum()));
        fs.put("var", x -> x.var(new int[] {1}, false).mul(x.sum(1, false)).sum());
        Tensor v = Tensor.randn(new Generator(12), DType.FLOAT64, 3, 4);
        for (var e : fs.entrySet()) {
            Tensor x = Tensor.rand(new Generator(13), DType.FLOAT64, 3, 4).add(0.5).requiresGrad(true);
            Tensor g = Autodiff.grad(new Tensor[] {e.getValue().apply(x)}, new Tensor[] {x}, null, true, true)[0];
            double[] hv = Autodiff.grad(g.mul(v).sum(), x)[0].toDoubleArray();
            double eps = 1e-6;
            double[] p = firstGrad(e.getValue(), x.detach().add(v.mul(eps))), m = firstGrad(e.getValue(), x.detach().sub(v.mul(eps)));
            double[] fd = new double[p.length];
            for (int i = 0; i < fd.length; i++) fd[i] = (p[i] - m[i]) / (2 * eps);
            assertClose(e.getKey() + " Hv", fd, hv, 1e-6);
        }
    }

    private static double[] firstGrad(Function<Tensor, Tensor> f, Tensor x) {
        x = x.copy().requiresGrad(true);
        return Autodiff.grad(f.apply(x), x)[0].toDoubleArray();
    }

    @Test void backwardWithCreateGraphLeavesDifferentiableGradients() {
        Tensor x = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
        Autodiff.backward(x.pow(3).sum(), null, true, true);            // x.grad = 3 x^2, with a graph
        assertClose("3 x^2", new double[] {3, 12}, x.grad().toDoubleArray(), 1e-12);
        Tensor penalty = x.grad().pow(2).sum();                         // d/dx sum (3x^2)^2 = 36 x^3
        Tensor[] g = Autodiff.grad(penalty, x);
        assertClose("36 x^3", new double[] {36, 288}, g[0].toDoubleArray(), 1e-12);
    }

    @Test void unusedInputsAndFreedGraphs() {
        Tensor a = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true), b = Tensor.of(new double[] {3}, 1).requiresGrad(true);
        Tensor f = a.mul(a).sum();
        var e = assertThrows(IllegalArgumentException.class, () -> Autodiff.grad(new Tensor[] {f}, new Tensor[] {a, b}, null, true, false));
        assertTrue(e.getMessage().contains("input 1 [1] is not used"), e.getMessage());
        Tensor[] g = Autodiff.grad(new Tensor[] {f}, new Tensor[] {a, b}, null, false, false, true);
        assertNotNull(g[0]);
        assertNull(g[1]);
        assertThrows(IllegalStateException.class, () -> Autodiff.grad(f, a), "the first call did not retain the graph");
    }

    @Test void severalOutputsWithGradOutputs() {
        Tensor a = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
        Tensor u = a.mul(3), v = a.mul(a);
        Tensor[] g = Autodiff.grad(new Tensor[] {u, v}, new Tensor[] {a}, new Tensor[] {Tensor.of(new double[] {1, 10}, 2), Tensor.of(new double[] {2, 1}, 2)}, false, false);
        assertClose("3 g_u + 2 a g_v", new double[] {3 + 4, 30 + 4}, g[0].toDoubleArray(), 1e-12);
    }

    @Test void fusedCrossEntropyIsRecomputedForSecondDerivatives() {
        Tensor logits = Tensor.randn(new Generator(6), DType.FLOAT64, 4, 5).requiresGrad(true);
        Tensor ids = Tensor.of(new long[] {1, -100, 4, 0}, 4);
        Tensor v = Tensor.randn(new Generator(7), DType.FLOAT64, 4, 5);
        Tensor g = Autodiff.grad(new Tensor[] {new dev.fluxion.tensor.CrossEntropyOp(-100, 0.1).apply(logits, ids)}, new Tensor[] {logits}, null, true, true)[0];
        double[] hv = Autodiff.grad(g.mul(v).sum(), logits)[0].toDoubleArray();
        double eps = 1e-6;
        double[] p = ceGrad(logits.detach().add(v.mul(eps)), ids), m = ceGrad(logits.detach().sub(v.mul(eps)), ids);
        double[] fd = new double[p.length];
        for (int i = 0; i < fd.length; i++) fd[i] = (p[i] - m[i]) / (2 * eps);
        assertClose("fused cross entropy Hv", fd, hv, 1e-6);
    }

    private static double[] ceGrad(Tensor logits, Tensor ids) {
        logits = logits.copy().requiresGrad(true);
        return Autodiff.grad(new dev.fluxion.tensor.CrossEntropyOp(-100, 0.1).apply(logits, ids), logits)[0].toDoubleArray();
    }

    @Test void fusedOpsWithStateRefuseCreateGraph() {
        Tensor x = Tensor.randn(new Generator(5), DType.FLOAT64, 2, 4).requiresGrad(true);
        Tensor wt = Tensor.ones(DType.FLOAT64, 4), bias = Tensor.zeros(DType.FLOAT64, 4);
        Tensor f = x.layerNorm(wt, bias, 1e-5).pow(2).sum();
        var e = assertThrows(UnsupportedOperationException.class, () -> Autodiff.grad(new Tensor[] {f}, new Tensor[] {x}, null, true, true));
        assertTrue(e.getMessage().contains("no second derivative"), e.getMessage());
        assertEquals(8, Autodiff.grad(f, x)[0].numel(), "first derivatives still work");
    }
}
