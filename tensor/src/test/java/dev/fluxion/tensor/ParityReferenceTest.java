package dev.fluxion.tensor;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxion.tensor.TensorAssert.Tol;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static dev.fluxion.tensor.TensorAssert.assertLongs;
import static dev.fluxion.tensor.TensorAssert.assertShape;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every case of reference/parity.json (written by src/test/python/make_parity_reference.py from PyTorch),
 * run on the saved inputs and again with each input stored transposed and as a stepped slice. Tolerances
 * as {@link PyTorchReferenceTest}: float64 rel 1e-12, float32 rel 1e-5 (abs 1e-5 for the ops that
 * accumulate); integers, bools and indices exactly.
 */
class ParityReferenceTest {
    private static final Set<String> ACCUMULATING = Set.of("var", "std", "cumsum", "cumprod", "prod", "einsum", "rpow");

    @TestFactory
    Stream<DynamicTest> parity() {
        Reference ref = Reference.load("parity.json");
        return ref.cases.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            try (Scope scope = Scope.open()) {
                check(c, run(c, inputs(ref, c, null)), "contiguous");
                for (UnaryOperator<Tensor> layout : Layouts.variants())
                    check(c, run(c, inputs(ref, c, layout)), layout == Layouts.variants().get(0) ? "transposed" : "stepped");
            }
        }));
    }

    /** A regenerated file that lost an op family fails here. */
    @Test
    void referenceCoversEveryParityOp() {
        Set<String> ops = new HashSet<>();
        Reference.load("parity.json").cases.forEach(c -> ops.add(c.op()));
        for (String op : List.of("log1p", "expm1", "erf", "tan", "atan", "square", "reciprocal", "floor", "ceil", "round", "trunc",
                "softplus", "leaky_relu", "elu", "hardtanh", "atan2", "fmod", "fmod_scalar", "rdiv", "rpow", "max_dim", "min_dim",
                "var", "std", "cumsum", "cumprod", "prod", "sort", "argsort", "topk", "unique", "flip", "roll", "repeat", "tile", "pad",
                "unbind", "movedim", "diagonal", "einsum", "masked_select", "index", "index_put", "scatter", "scatter_value", "nonzero"))
            assertTrue(ops.contains(op), "no reference case for " + op);
    }

    private static List<Tensor> inputs(Reference ref, Reference.Case c, UnaryOperator<Tensor> layout) {
        List<Tensor> in = new ArrayList<>();
        for (String name : c.inputs()) in.add(layout == null ? ref.input(name) : layout.apply(ref.input(name)));
        return in;
    }

    private static void check(Reference.Case c, List<Tensor> actual, String layout) {
        try {
            assertEquals(c.outputs().size(), actual.size(), "number of outputs");
            for (int i = 0; i < actual.size(); i++) {
                Tensor expected = Reference.tensor(c.outputs().get(i)), a = actual.get(i);
                assertEquals(expected.dtype(), a.dtype(), "dtype of output " + i);
                assertShape(a, expected.shape());
                if (expected.dtype().isFloatingPoint()) {
                    Tol tol = Tol.of(expected.dtype());
                    if (expected.dtype() == DType.FLOAT32 && ACCUMULATING.contains(c.op())) tol = tol.withAbs(1e-5);
                    TensorAssert.assertClose(expected.toDoubleArray(), a, tol);
                } else {
                    assertLongs(a, expected.toLongArray());
                }
            }
        } catch (AssertionError e) {
            throw new AssertionError(c.name() + " (" + c.op() + " " + c.args() + ", inputs " + layout + "): " + e.getMessage(), e);
        }
    }

    private static List<Tensor> run(Reference.Case c, List<Tensor> in) {
        JsonNode a = c.args();
        Tensor x = in.get(0);
        switch (c.op()) {
            case "max_dim", "min_dim" -> {
                var r = c.op().equals("max_dim") ? x.maxWithIndices(a.get("dim").asInt(), a.get("keepdim").asBoolean())
                        : x.minWithIndices(a.get("dim").asInt(), a.get("keepdim").asBoolean());
                return List.of(r.values(), r.indices());
            }
            case "sort" -> {
                var r = x.sort(a.get("dim").asInt(), a.get("descending").asBoolean());
                return List.of(r.values(), r.indices());
            }
            case "topk" -> {
                var r = x.topk(a.get("k").asInt(), a.get("dim").asInt(), a.get("largest").asBoolean());
                return List.of(r.values(), r.indices());
            }
            case "unique" -> {
                Unique u = x.uniqueAll();
                return List.of(u.values(), u.inverse(), u.counts());
            }
            case "unbind" -> { return x.unbind(a.get("dim").asInt()); }
            default -> { return List.of(single(c.op(), a, x, in)); }
        }
    }

    private static Tensor single(String op, JsonNode a, Tensor x, List<Tensor> in) {
        return switch (op) {
            case "log1p" -> x.log1p();
            case "expm1" -> x.expm1();
            case "erf" -> x.erf();
            case "tan" -> x.tan();
            case "atan" -> x.atan();
            case "square" -> x.square();
            case "reciprocal" -> x.reciprocal();
            case "floor" -> x.floor();
            case "ceil" -> x.ceil();
            case "round" -> x.round();
            case "trunc" -> x.trunc();
            case "softplus" -> a.get("beta").asDouble() == 1 && a.get("threshold").asDouble() == 20 ? x.softplus()
                    : x.softplus(a.get("beta").asDouble(), a.get("threshold").asDouble());
            case "leaky_relu" -> x.leakyRelu(a.get("slope").asDouble());
            case "elu" -> x.elu(a.get("alpha").asDouble());
            case "hardtanh" -> x.hardtanh(a.get("min").asDouble(), a.get("max").asDouble());
            case "atan2" -> x.atan2(in.get(1));
            case "fmod" -> x.fmod(in.get(1));
            case "fmod_scalar" -> x.fmod(a.get("value").asDouble());
            case "rdiv" -> x.rdiv(a.get("value").asDouble());
            case "rpow" -> Tensor.pow(a.get("value").asDouble(), x);
            case "var" -> x.var(ints(a.get("dims")), a.get("keepdim").asBoolean(), a.get("correction").asInt());
            case "std" -> x.std(ints(a.get("dims")), a.get("keepdim").asBoolean(), a.get("correction").asInt());
            case "cumsum" -> x.cumsum(a.get("dim").asInt());
            case "cumprod" -> x.cumprod(a.get("dim").asInt());
            case "prod" -> a.get("dim").isNull() ? x.prod() : x.prod(a.get("dim").asInt(), a.get("keepdim").asBoolean());
            case "argsort" -> x.argsort(a.get("dim").asInt(), a.get("descending").asBoolean());
            case "flip" -> x.flip(ints(a.get("dims")));
            case "roll" -> x.roll(ints(a.get("shifts")), ints(a.get("dims")));
            case "repeat" -> x.repeat(ints(a.get("reps")));
            case "tile" -> x.tile(ints(a.get("reps")));
            case "pad" -> x.pad(ints(a.get("pad")), PadMode.valueOf(a.get("mode").asText().toUpperCase(Locale.ROOT)), a.get("value").asDouble());
            case "movedim" -> x.movedim(ints(a.get("source")), ints(a.get("destination")));
            case "diagonal" -> x.diagonal(a.get("offset").asInt(), a.get("dim1").asInt(), a.get("dim2").asInt());
            case "einsum" -> Tensor.einsum(a.get("equation").asText(), in.toArray(new Tensor[0]));
            case "masked_select" -> x.maskedSelect(in.get(1));
            case "index" -> x.index(in.subList(1, in.size()).toArray(new Tensor[0]));
            case "index_put" -> x.indexPut(in.subList(1, in.size() - 1).toArray(new Tensor[0]), in.get(in.size() - 1), a.get("accumulate").asBoolean());
            case "scatter" -> x.scatter(a.get("dim").asInt(), in.get(1), in.get(2));
            case "scatter_value" -> x.scatter(a.get("dim").asInt(), in.get(1), a.get("value").asDouble());
            case "nonzero" -> x.nonzero();
            default -> throw new AssertionError("unknown reference op " + op);
        };
    }

    private static int[] ints(JsonNode n) {
        int[] v = new int[n.size()];
        for (int i = 0; i < v.length; i++) v[i] = n.get(i).asInt();
        return v;
    }
}
