package dev.fluxion.autodiff;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * Every backward rule against finite differences in float64, with broadcast and non-contiguous inputs.
 * Inputs avoid the kinks of relu/abs/max and the edges of clamp, where derivatives are one-sided.
 */
class GradCheckTest {
    private static final Generator G = new Generator(2024);

    private static Tensor randn(int... shape) { return Tensor.randn(G, DType.FLOAT64, shape); }

    /** Values bounded away from 0 (for log, sqrt, abs, relu kinks): |v| in [0.5, 1.5], random sign unless positive. */
    private static Tensor awayFromZero(boolean positive, int... shape) {
        Tensor mag = Tensor.rand(G, DType.FLOAT64, shape).add(0.5);
        return positive ? mag : mag.mul(Tensor.randn(G, DType.FLOAT64, shape).sign());
    }

    private static Tensor ids(long... v) { return Tensor.of(v, v.length); }

    private final List<DynamicTest> tests = new ArrayList<>();

    private void add(String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
        tests.add(dynamicTest(name, () -> GradCheck.check(name, f, inputs)));
    }

    @TestFactory
    List<DynamicTest> everyRule() {
        // unary
        add("neg", x -> x[0].neg(), randn(3, 4));
        add("exp", x -> x[0].exp(), randn(3, 4));
        add("log", x -> x[0].log(), awayFromZero(true, 3, 4));
        add("sqrt", x -> x[0].sqrt(), awayFromZero(true, 3, 4));
        add("rsqrt", x -> x[0].rsqrt(), awayFromZero(true, 3, 4));
        add("abs", x -> x[0].abs(), awayFromZero(false, 3, 4));
        add("sign (zero gradient; times x gives |x|)", x -> x[0].sign().mul(x[0]), awayFromZero(false, 3, 4));
        add("sin", x -> x[0].sin(), randn(3, 4));
        add("cos", x -> x[0].cos(), randn(3, 4));
        add("tanh", x -> x[0].tanh(), randn(3, 4));
        add("sigmoid", x -> x[0].sigmoid(), randn(3, 4));
        add("relu", x -> x[0].relu(), awayFromZero(false, 3, 4));
        add("gelu", x -> x[0].gelu(), randn(3, 4).mul(2));
        add("geluTanh", x -> x[0].geluTanh(), randn(3, 4).mul(2));
        add("silu", x -> x[0].silu(), randn(3, 4).mul(2));
        add("unary on transposed input", x -> x[0].t().tanh(), randn(3, 4));
        // binary, with broadcasting both ways and a non-contiguous operand
        add("add broadcast [3,4]+[4]", x -> x[0].add(x[1]), randn(3, 4), randn(4));
        add("sub broadcast [3,1]-[1,4]", x -> x[0].sub(x[1]), randn(3, 1), randn(1, 4));
        add("mul broadcast [2,3,4]*[3,1]", x -> x[0].mul(x[1]), randn(2, 3, 4), randn(3, 1));
        add("div broadcast", x -> x[0].div(x[1]), randn(3, 4), awayFromZero(false, 4));
        add("pow tensor^tensor", x -> x[0].pow(x[1]), awayFromZero(true, 3, 4), randn(3, 4));
        add("pow tensor^scalar", x -> x[0].pow(3), randn(3, 4));
        add("maximum", x -> x[0].maximum(x[1]), randn(3, 4), randn(3, 4));
        add("minimum broadcast", x -> x[0].minimum(x[1]), randn(3, 4), randn(4));
        add("mul with transposed operand", x -> x[0].t().mul(x[1]), randn(4, 3), randn(3, 4));
        add("scalar ops", x -> x[0].add(2).mul(3).sub(1).div(4).rsub(5), randn(3));
        // where, clamp, maskedFill, tril
        add("where", x -> Tensor.where(x[0].gt(0).detach(), x[0], x[1]), randn(3, 4), randn(4));
        add("clamp", x -> x[0].clamp(-0.5, 0.5), awayFromZero(false, 4, 4).mul(0.45).add(Tensor.of(new double[] {0, 0.3, -1, 1}, 4)));
        add("maskedFill", x -> x[0].maskedFill(Tensor.of(new boolean[] {true, false, false, true}, 4), 0.0), randn(3, 4));
        add("tril", x -> x[0].tril(), randn(4, 4));
        add("triu(1)", x -> x[0].triu(1), randn(3, 5));
        // one operand constant: the rule keeps only what the other operand's gradient needs
        Tensor k34 = awayFromZero(false, 3, 4), k4 = awayFromZero(true, 4), k45 = randn(4, 5);
        add("mul by a constant", x -> x[0].mul(k34), randn(3, 4));
        add("constant times input", x -> k34.mul(x[0]), randn(4));
        add("div by a constant", x -> x[0].div(k34), randn(3, 4));
        add("constant over input", x -> k34.div(x[0]), awayFromZero(false, 4));
        add("constant to a power", x -> k4.pow(x[0]), randn(3, 4));
        add("matmul by a constant", x -> x[0].matmul(k45), randn(3, 4));
        add("constant matmul input", x -> k34.matmul(x[0]), randn(4, 5));
        add("layerNorm of a constant (weight, bias)", x -> k34.layerNorm(x[0], x[1], 1e-5), randn(4), randn(4));
        add("layerNorm, bias only", x -> k34.layerNorm(k4, x[0], 1e-5), randn(4));
        // fused softmax + cross-entropy, with an ignored target and label smoothing
        Tensor targets = Tensor.of(new long[] {2, -100, 0, 4}, 4);
        add("crossEntropy", x -> new dev.fluxion.tensor.CrossEntropyOp(-100, 0).apply(x[0], Tensor.of(new long[] {2, 1, 0, 4}, 4)), randn(4, 5));
        add("crossEntropy ignoring a target, label smoothing", x -> new dev.fluxion.tensor.CrossEntropyOp(-100, 0.1).apply(x[0], targets), randn(4, 5));
        add("crossEntropy of a transposed input", x -> new dev.fluxion.tensor.CrossEntropyOp(-100, 0).apply(x[0].t(), targets), randn(5, 4));
        // reductions
        add("layerNorm (input, weight, bias)", x -> x[0].layerNorm(x[1], x[2], 1e-5), randn(3, 6), randn(6), randn(6));
        add("layerNorm of a transposed input", x -> x[0].t().layerNorm(x[1], x[2], 1e-5), randn(6, 3), randn(6), randn(6));
        add("sum all", x -> x[0].sum(), randn(3, 4));
        add("sum dim keepdim", x -> x[0].sum(1, true), randn(3, 4));
        add("sum dims", x -> x[0].sum(new int[] {0, 2}, false), randn(2, 3, 4));
        add("mean", x -> x[0].mean(new int[] {-1}, true), randn(3, 4));
        add("max dim", x -> x[0].max(1, false), randn(3, 5));
        add("min all", x -> x[0].min(), randn(3, 5));
        add("var", x -> x[0].var(new int[] {1}, false), randn(3, 5));
        add("std", x -> x[0].std(new int[] {0}, true), randn(4, 3));
        add("logsumexp", x -> x[0].logsumexp(1, false), randn(3, 5));
        add("norm", x -> x[0].norm(), randn(3, 5));
        add("softmax last", x -> x[0].softmax(-1), randn(3, 5));
        add("softmax dim 0", x -> x[0].softmax(0), randn(3, 5));
        add("logSoftmax", x -> x[0].logSoftmax(1), randn(3, 5));
        add("sum of non-contiguous", x -> x[0].t().sum(0, false), randn(3, 4));
        // matmul
        add("matmul 2d", x -> x[0].matmul(x[1]), randn(3, 4), randn(4, 5));
        add("matmul batched broadcast", x -> x[0].matmul(x[1]), randn(2, 3, 4), randn(4, 2));
        add("matmul batch broadcast both", x -> x[0].matmul(x[1]), randn(2, 1, 3, 4), randn(3, 4, 2));
        add("matmul vector", x -> x[0].matmul(x[1]), randn(4), randn(4, 3));
        add("matmul matrix-vector", x -> x[0].matmul(x[1]), randn(3, 4), randn(4));
        add("matmul transposed operands", x -> x[0].t().matmul(x[1].t()), randn(4, 3), randn(5, 4));
        add("addmm", x -> x[0].addmm(x[1], x[2], 0.5, 2), randn(3, 5), randn(3, 4), randn(4, 5));
        add("outer", x -> x[0].outer(x[1]), randn(3), randn(4));
        // views
        add("reshape", x -> x[0].reshape(4, 3).mul(x[1]), randn(3, 4), randn(3));
        add("reshape of transposed (copies)", x -> x[0].t().reshape(-1), randn(3, 4));
        add("permute", x -> x[0].permute(2, 0, 1), randn(2, 3, 4));
        add("transpose", x -> x[0].transpose(0, 2), randn(2, 3, 4));
        add("expand", x -> x[0].expand(2, 3, 4), randn(3, 1));
        add("slice with step", x -> x[0].slice(1, 1, 6, 2), randn(3, 7));
        add("narrow", x -> x[0].narrow(0, 1, 2), randn(4, 3));
        add("select", x -> x[0].select(1, -1), randn(3, 4));
        add("squeeze/unsqueeze", x -> x[0].unsqueeze(0).squeeze(2).unsqueeze(-1), randn(3, 1));
        add("flatten", x -> x[0].flatten(1, 2), randn(2, 3, 4));
        add("contiguous", x -> x[0].t().contiguous(), randn(3, 4));
        // indexing
        add("indexSelect dim 0", x -> x[0].indexSelect(0, ids(2, 0, 2)), randn(3, 4));
        add("indexSelect dim 1", x -> x[0].indexSelect(1, ids(3, 1)), randn(3, 4));
        add("gather", x -> x[0].gather(1, Tensor.of(new long[] {0, 2, 1, 1, 3, 0}, 3, 2)), randn(3, 4));
        add("scatterAdd (input and src)", x -> x[0].scatterAdd(0, Tensor.of(new long[] {0, 2, 1, 0, 0, 2}, 2, 3), x[1]), randn(3, 3), randn(2, 3));
        add("indexAdd (input and src)", x -> x[0].indexAdd(1, ids(2, 0, 2), x[1]), randn(3, 4), randn(3, 3));
        add("embedding", x -> Tensor.embedding(x[0], Tensor.of(new long[] {1, 0, 4, 1}, 2, 2)), randn(5, 3));
        // joining
        add("cat", x -> Tensor.cat(List.of(x[0], x[1]), 1), randn(2, 3), randn(2, 2));
        add("stack", x -> Tensor.stack(List.of(x[0], x[1]), 0), randn(2, 3), randn(2, 3));
        add("split", x -> x[0].split(2, 1).get(1).mul(2), randn(3, 5));
        add("chunk", x -> x[0].chunk(2, 0).get(0), randn(5, 2));
        // composites and a small network
        add("mlp", x -> x[0].matmul(x[1]).add(x[2]).gelu().matmul(x[3]).logSoftmax(-1), randn(4, 3), randn(3, 5), randn(5), randn(5, 2));
        add("checkpoint", x -> Autodiff.checkpoint(a -> a[0].matmul(a[1]).tanh(), x[0], x[1]).sum(1, false), randn(3, 4), randn(4, 2));
        return tests;
    }
}
