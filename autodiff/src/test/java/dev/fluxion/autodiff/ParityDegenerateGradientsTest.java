package dev.fluxion.autodiff;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

import static java.util.Map.entry;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gradients of the parity ops where finite differences do not apply (ties, kinks, bounds, zeros, constant
 * inputs) equal PyTorch's: reference/parity_gradients.json from src/test/python/make_parity_gradients.py,
 * the gradient of sum(f(x) * [1, 2, 3, ...]) in float64.
 */
class ParityDegenerateGradientsTest {
    private static final Map<String, Function<Tensor, Tensor>> F = Map.ofEntries(
            entry("std_constant", x -> x.std()),
            entry("std_constant_row", x -> x.std(new int[] {1}, false)),
            entry("std_constant_correction0", x -> x.std(new int[] {1}, false, 0)),
            entry("hardtanh_at_bounds", x -> x.hardtanh(-1, 1)),
            entry("clamp_at_bounds", x -> x.clamp(-1, 1)),
            entry("leaky_relu_at_zero", x -> x.leakyRelu(0.1)),
            entry("elu_at_zero", x -> x.elu(1.5)),
            entry("softplus_at_threshold", x -> x.softplus()),
            entry("step_functions_at_integers", x -> x.floor().add(x.ceil()).add(x.round()).add(x.trunc())),
            entry("max_dim_ties", x -> x.maxWithIndices(1, false).values()),
            entry("min_dim_ties", x -> x.minWithIndices(1, false).values()),
            entry("amax_ties", x -> x.max(1, false)),
            entry("sort_ties", x -> x.sort(0, false).values()),
            entry("sort_ties_descending", x -> x.sort(0, true).values()),
            entry("cumprod_zeros", x -> x.cumprod(0)),
            entry("prod_one_zero", x -> x.prod()),
            entry("prod_two_zeros", x -> x.prod()),
            entry("prod_dim_zeros", x -> x.prod(1, false)),
            entry("atan2_at_origin", x -> x.narrow(0, 0, 1).atan2(x.narrow(0, 1, 1).sub(1))),
            entry("pow_zero_base", x -> Tensor.pow(0.0, x)),
            entry("fmod_exact_multiple", x -> x.fmod(2.0)),
            entry("log1p_at_minus_one", x -> x.log1p()),
            entry("index_put_repeated_accumulate", x -> x.indexPut(new Tensor[] {Tensor.of(new long[] {0, 0, 1}, 3)}, x.narrow(0, 1, 1), true)));

    @TestFactory
    Stream<DynamicTest> gradientsMatchPyTorch() throws IOException {
        JsonNode root;
        try (InputStream in = getClass().getResourceAsStream("/reference/parity_gradients.json")) {
            root = new ObjectMapper().readTree(in);
        }
        List<JsonNode> cases = StreamSupport.stream(root.get("cases").spliterator(), false).toList();
        assertEquals(F.keySet(), cases.stream().map(c -> c.get("name").asText()).collect(java.util.stream.Collectors.toSet()),
                "every reference case has a function here and the other way round");
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.get("name").asText(), () -> {
            String name = c.get("name").asText();
            int[] shape = StreamSupport.stream(c.get("shape").spliterator(), false).mapToInt(JsonNode::asInt).toArray();
            Tensor x = Tensor.of(values(c.get("input")), shape).requiresGrad(true);
            Tensor y = F.get(name).apply(x);
            assertClose(name + " output", values(c.get("output")), y.toDoubleArray());
            Tensor w = Tensor.arange(1, y.numel() + 1, 1, DType.FLOAT64).reshape(y.shape());
            y.mul(w).sum().backward();
            assertClose(name + " gradient", values(c.get("grad")), x.grad().toDoubleArray());
        }));
    }

    private static double[] values(JsonNode n) {
        double[] v = new double[n.size()];
        for (int i = 0; i < v.length; i++) {
            JsonNode e = n.get(i);
            v[i] = e.isTextual() ? Double.parseDouble(e.asText()) : e.asDouble();
        }
        return v;
    }

    private static void assertClose(String what, double[] expected, double[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            boolean ok = Double.isNaN(e) ? Double.isNaN(a) : Double.isInfinite(e) ? e == a : Math.abs(e - a) <= 1e-12 + 1e-9 * Math.abs(e);
            assertTrue(ok, what + ": element " + i + " expected " + e + ", got " + a + " (all: " + java.util.Arrays.toString(actual) + ")");
        }
    }
}
