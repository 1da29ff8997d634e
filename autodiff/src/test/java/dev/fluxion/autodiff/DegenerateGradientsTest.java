package dev.fluxion.autodiff;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static java.util.Map.entry;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Values and gradients at degenerate points (kinks, ties, zeros, infinities, NaN, empty tensors) equal
 * PyTorch's, in float64: NaN where PyTorch gives NaN, the same infinities, finite values within 1e-12.
 * Reference: autodiff/src/test/python/make_degenerate_reference.py -> reference/degenerate.json; each case
 * name maps to the same expression here.
 */
class DegenerateGradientsTest {
    private static final double INF = Double.POSITIVE_INFINITY;

    private static final Map<String, Function<Tensor[], Tensor>> CASES = Map.ofEntries(
            entry("pow_scalar_zero", x -> x[0].pow(0)),
            entry("pow_scalar_half", x -> x[0].pow(0.5)),
            entry("pow_scalar_two", x -> x[0].pow(2)),
            entry("pow_tensor", x -> x[0].pow(x[1])),
            entry("norm_zero_vector", x -> x[0].norm()),
            entry("norm_zero_row", x -> x[0].norm(2, new int[] {1}, false)),
            entry("norm_p3_zero_row", x -> x[0].norm(3, new int[] {1}, false)),
            entry("norm_p1_zero", x -> x[0].norm(1)),
            entry("norm_inf_ties", x -> x[0].norm(INF)),
            entry("relu", x -> x[0].relu()),
            entry("abs", x -> x[0].abs()),
            entry("sign", x -> x[0].sign()),
            entry("clamp", x -> x[0].clamp(0, 1)),
            entry("clamp_min", x -> x[0].clampMin(0)),
            entry("clamp_max", x -> x[0].clampMax(0)),
            entry("max_all_ties", x -> x[0].max()),
            entry("max_all_nan", x -> x[0].max()),
            entry("min_all_ties", x -> x[0].min()),
            entry("amax_dim_ties", x -> x[0].max(1, false)),
            entry("amin_dim_ties", x -> x[0].min(0, false)),
            entry("maximum", x -> x[0].maximum(x[1])),
            entry("minimum", x -> x[0].minimum(x[1])),
            entry("sqrt_zero", x -> x[0].sqrt()),
            entry("log_zero", x -> x[0].log()),
            entry("div_zero", x -> x[0].div(x[1])),
            entry("rsqrt_zero", x -> x[0].rsqrt()),
            entry("logsumexp_all_neg_inf", x -> x[0].logsumexp(1, false)),
            entry("softmax_neg_inf", x -> x[0].softmax(1).mul(Tensor.of(new double[] {1, 2, 3}, 1, 3))),
            entry("log_softmax_neg_inf", x -> x[0].logSoftmax(1).slice(1, 1, 3)),
            entry("where_log_zero", x -> Tensor.where(x[0].gt(0), x[0].log(), Tensor.zerosLike(x[0]))),
            entry("tanh_sigmoid_large", x -> x[0].tanh().add(x[0].sigmoid())),
            entry("exp_neg_inf", x -> x[0].exp()),
            entry("softmax_all_neg_inf", x -> x[0].softmax(1)),
            entry("log_softmax_all_neg_inf", x -> x[0].logSoftmax(1)),
            entry("pow_scalar_one", x -> x[0].pow(1)),
            entry("pow_scalar_neg_one", x -> x[0].pow(-1)),
            entry("pow_negative_base_half", x -> x[0].pow(0.5)),
            entry("pow_zero_zero", x -> x[0].pow(x[1])),
            entry("max_with_inf", x -> x[0].max()),
            entry("norm_with_inf", x -> x[0].norm()),
            entry("mean_with_nan", x -> x[0].mean()),
            entry("sum_empty", x -> x[0].sum()),
            entry("mean_empty", x -> x[0].mean()),
            entry("sum_empty_dim", x -> x[0].sum(0, false)),
            entry("mean_empty_dim", x -> x[0].mean(0, false)),
            entry("mean_of_empty_rows", x -> x[0].mean(1, false)),
            entry("matmul_empty_inner", x -> x[0].matmul(x[1])));

    static Tensor tensor(JsonNode n) {
        int[] shape = new int[n.get("shape").size()];
        for (int i = 0; i < shape.length; i++) shape[i] = n.get("shape").get(i).asInt();
        double[] v = new double[n.get("data").size()];
        for (int i = 0; i < v.length; i++) v[i] = n.get("data").get(i).asDouble();
        return Tensor.of(v, shape);
    }

    static void assertSame(String what, Tensor expected, Tensor actual) {
        assertEquals(Arrays.toString(expected.shape()), Arrays.toString(actual.shape()), what + ": shape");
        double[] e = expected.toDoubleArray(), a = actual.toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            boolean ok = Double.isNaN(e[i]) ? Double.isNaN(a[i]) : Double.isInfinite(e[i]) ? e[i] == a[i] : Math.abs(e[i] - a[i]) <= 1e-12 * Math.max(1, Math.abs(e[i]));
            if (!ok) fail(what + ": element " + i + " expected " + e[i] + " (PyTorch), got " + a[i] + "; expected " + Arrays.toString(e) + ", got " + Arrays.toString(a));
        }
    }

    @TestFactory
    List<DynamicTest> matchPyTorch() throws IOException {
        JsonNode ref;
        try (InputStream in = getClass().getResourceAsStream("/reference/degenerate.json")) {
            ref = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build().readTree(in);
        }
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : ref) {
            String name = c.get("name").asText();
            tests.add(DynamicTest.dynamicTest(name, () -> {
                Function<Tensor[], Tensor> f = CASES.get(name);
                if (f == null) fail("no Fluxion expression for reference case " + name);
                Tensor[] in = new Tensor[c.get("inputs").size()];
                for (int i = 0; i < in.length; i++) in[i] = tensor(c.get("inputs").get(i)).requiresGrad(true);
                Tensor out = f.apply(in);
                assertEquals(DType.FLOAT64, out.dtype());
                assertSame(name + " value", tensor(c.get("out")).reshape(-1), out.reshape(-1));
                out.sum().backward();
                for (int i = 0; i < in.length; i++)
                    assertSame(name + " grad of input " + i, tensor(c.get("grads").get(i)), in[i].grad() == null ? Tensor.zerosLike(in[i]) : in[i].grad());
            }));
        }
        return tests;
    }
}
