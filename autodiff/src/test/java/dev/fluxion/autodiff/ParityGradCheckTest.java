package dev.fluxion.autodiff;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.PadMode;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * The gradients of the PyTorch-parity ops against float64 finite differences: the new primitives
 * (MathFn functions, cumsum, cumprod) and the ops written with other recorded ops (sort, pad, einsum,
 * index_put, ...), with inputs away from kinks, ties and discontinuities.
 */
class ParityGradCheckTest {
    private static final Generator G = new Generator(4242);

    private static Tensor randn(int... shape) { return Tensor.randn(G, DType.FLOAT64, shape); }

    /** |v| in [0.5, 1.5] with a random sign (positive when asked). */
    private static Tensor away(boolean positive, int... shape) {
        Tensor mag = Tensor.rand(G, DType.FLOAT64, shape).add(0.5);
        return positive ? mag : mag.mul(Tensor.randn(G, DType.FLOAT64, shape).sign());
    }

    /** Distinct values: a shuffled ramp plus noise, so sort/topk/max have no ties. */
    private static Tensor distinct(int... shape) {
        int n = (int) Tensor.zeros(shape).numel();
        Tensor ramp = Tensor.arange(0, n, 1, DType.FLOAT64).indexSelect(0, Tensor.randperm(n, G)).mul(0.5);
        return ramp.add(Tensor.rand(G, DType.FLOAT64, n).mul(0.1)).reshape(shape);
    }

    private static Tensor ids(long... v) { return Tensor.of(v, v.length); }

    private final List<DynamicTest> tests = new ArrayList<>();

    private void add(String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
        tests.add(dynamicTest(name, () -> GradCheck.check(name, f, inputs)));
    }

    @TestFactory
    List<DynamicTest> everyParityOp() {
        // elementwise primitives (MathRules)
        add("log1p", x -> x[0].log1p(), away(true, 3, 4));
        add("expm1", x -> x[0].expm1(), randn(3, 4));
        add("erf", x -> x[0].erf(), randn(3, 4));
        add("tan", x -> x[0].tan(), randn(3, 4).mul(0.4));
        add("atan", x -> x[0].atan(), randn(3, 4).mul(2));
        add("atan2 broadcast", x -> x[0].atan2(x[1]), randn(3, 4), away(false, 4));
        add("fmod broadcast", x -> x[0].fmod(x[1]), Tensor.of(new double[] {2.3, -2.3, 5.1, -0.7, 3.3, 4.6}, 2, 3), Tensor.of(new double[] {1.5, -2.0, 1.2}, 3));
        add("fmod scalar", x -> x[0].fmod(0.75), Tensor.of(new double[] {2.3, -2.0, 0.1, -0.6}, 4));
        add("floor/ceil/round/trunc (zero gradient)", x -> x[0].floor().add(x[0].ceil()).add(x[0].round()).add(x[0].trunc()).add(x[0]),
                Tensor.of(new double[] {0.3, -1.2, 2.7, -0.6, 1.1, 5.45}, 6));
        add("cumsum dim 1", x -> x[0].cumsum(1), randn(3, 4));
        add("cumsum dim 0 of transposed", x -> x[0].t().cumsum(0), randn(3, 4));
        add("cumprod", x -> x[0].cumprod(1), randn(3, 4));
        add("cumprod with zeros", x -> x[0].cumprod(0), Tensor.of(new double[] {2, 0, 3, 0, 1.5, -1}, 6));
        add("prod dim", x -> x[0].prod(1, false), randn(3, 4));
        add("prod with one zero", x -> x[0].prod(), Tensor.of(new double[] {2, 0, 3, -1.5}, 4));
        add("prod with two zeros", x -> x[0].prod(), Tensor.of(new double[] {2, 0, 3, 0}, 4));
        // composites
        add("reciprocal", x -> x[0].reciprocal(), away(false, 3, 4));
        add("square", x -> x[0].square(), randn(3, 4));
        add("rdiv", x -> x[0].rdiv(3), away(false, 3, 4));
        add("pow(scalar, tensor)", x -> Tensor.pow(2.5, x[0]), randn(3, 4));
        add("softplus both branches", x -> x[0].softplus(2, 4), Tensor.of(new double[] {-3, -0.5, 0.4, 1.2, 2.5, 7}, 6));
        add("leakyRelu", x -> x[0].leakyRelu(0.1), away(false, 3, 4));
        add("elu", x -> x[0].elu(1.5), away(false, 3, 4));
        add("hardtanh", x -> x[0].hardtanh(-1, 0.8), Tensor.of(new double[] {-1.5, -0.7, 0.2, 0.7, 1.3}, 5));
        add("var correction 0", x -> x[0].var(new int[] {1}, false, 0), randn(3, 5));
        add("std correction 2", x -> x[0].std(new int[] {0, 1}, true, 2), randn(3, 5));
        add("maxWithIndices values", x -> x[0].maxWithIndices(1, false).values(), distinct(3, 5));
        add("minWithIndices keepdim", x -> x[0].minWithIndices(0, true).values(), distinct(3, 5));
        add("sort values", x -> x[0].sort(1, false).values(), distinct(3, 5));
        add("sort descending dim 0", x -> x[0].sort(0, true).values(), distinct(4, 3));
        add("topk values", x -> x[0].topk(2, -1, true).values(), distinct(3, 5));
        add("flip", x -> x[0].flip(0, 2), randn(2, 3, 4));
        add("roll", x -> x[0].roll(new int[] {1, -2}, new int[] {0, 1}), randn(3, 4));
        add("roll flattened", x -> x[0].roll(new int[] {5}, new int[0]), randn(3, 4));
        add("repeat", x -> x[0].repeat(2, 1, 3), randn(3, 2));
        add("tile", x -> x[0].tile(2), randn(3, 2));
        add("pad constant (and crop)", x -> x[0].pad(new int[] {1, -1, 2, 0}, PadMode.CONSTANT, 0.5), randn(3, 4));
        add("pad reflect", x -> x[0].pad(new int[] {2, 1, 1, 2}, PadMode.REFLECT, 0), randn(3, 4));
        add("pad replicate", x -> x[0].pad(new int[] {2, 3}, PadMode.REPLICATE, 0), randn(3, 4));
        add("pad circular", x -> x[0].pad(new int[] {1, 2}, PadMode.CIRCULAR, 0), randn(3, 4));
        add("unbind", x -> x[0].unbind(1).get(2).mul(x[0].unbind(0).get(1).narrow(0, 0, 3)), randn(3, 4));
        add("movedim", x -> x[0].movedim(0, -1), randn(2, 3, 4));
        add("diagonal offset", x -> x[0].diagonal(1, 1, 2), randn(2, 3, 4));
        add("einsum attention scores", x -> Tensor.einsum("bhqd,bhkd->bhqk", x[0], x[1]), randn(2, 2, 3, 4), randn(2, 2, 5, 4));
        add("einsum attention output", x -> Tensor.einsum("bhqk,bhkd->bhqd", x[0], x[1]), randn(1, 2, 3, 5), randn(1, 2, 5, 4));
        add("einsum bilinear", x -> Tensor.einsum("bi,oij,bj->bo", x[0], x[1], x[2]), randn(2, 3), randn(4, 3, 5), randn(2, 5));
        add("einsum trace", x -> Tensor.einsum("ii->", x[0]), randn(4, 4));
        add("einsum ellipsis batch matmul", x -> Tensor.einsum("...ij,...jk->...ik", x[0], x[1]), randn(2, 3, 4), randn(2, 4, 2));
        Tensor mask = Tensor.of(new boolean[] {true, false, true, true, false, false}, 2, 3);
        add("maskedSelect broadcast", x -> x[0].maskedSelect(mask), randn(4, 2, 3));
        add("index bool mask", x -> x[0].index(mask), randn(2, 3, 2));
        add("index integer tensors", x -> x[0].index(ids(1, 0, 1), ids(2, 2, 0)), randn(2, 3, 2));
        add("indexPut mask (input and values)", x -> x[0].indexPut(mask, x[1]), randn(2, 3, 2), randn(2));
        add("indexPut accumulate with repeats", x -> x[0].indexPut(new Tensor[] {ids(0, 1, 0)}, x[1], true), randn(2, 3), randn(3, 3));
        add("indexPut without repeats", x -> x[0].indexPut(new Tensor[] {ids(1), ids(2)}, x[1], false), randn(2, 3), randn(1));
        add("scatter (input and src)", x -> x[0].scatter(1, Tensor.of(new long[] {2, 0, 1, 3}, 2, 2), x[1]), randn(2, 4), randn(2, 3));
        add("scatter value", x -> x[0].scatter(0, Tensor.of(new long[] {1, 0}, 1, 2), 7.0), randn(2, 2));
        return tests;
    }

    /** The index outputs and the purely integer results never join the graph. */
    @Test
    void indexOutputsAreNotDifferentiable() {
        Tensor x = distinct(3, 4).requiresGrad(true);
        assertFalse(x.argsort(1, false).requiresGrad());
        assertFalse(x.sort(1, false).indices().requiresGrad());
        assertFalse(x.topk(2).indices().requiresGrad());
        assertFalse(x.maxWithIndices(0, false).indices().requiresGrad());
        assertFalse(x.nonzero().requiresGrad());
        assertFalse(x.unique().requiresGrad());
        assertFalse(x.uniqueAll().inverse().requiresGrad());
    }
}
