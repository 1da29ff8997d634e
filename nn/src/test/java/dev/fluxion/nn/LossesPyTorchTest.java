package dev.fluxion.nn;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every loss against PyTorch in float64, value and gradients, one test per case, including the degenerate
 * points (a logit of exactly 0, every target ignored, |d| exactly at beta or delta, target 0 in KL).
 * Reference: nn/src/test/python/make_loss_reference.py -> reference/losses.json.
 */
class LossesPyTorchTest {
    static JsonNode load(String resource) throws IOException {
        try (InputStream in = LossesPyTorchTest.class.getResourceAsStream(resource)) {
            return JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build().readTree(in);
        }
    }

    static Tensor tensor(JsonNode n) {
        int[] shape = new int[n.get("shape").size()];
        for (int i = 0; i < shape.length; i++) shape[i] = n.get("shape").get(i).asInt();
        JsonNode data = n.get("data");
        if ("int64".equals(n.get("dtype").asText())) {
            long[] v = new long[data.size()];
            for (int i = 0; i < v.length; i++) v[i] = data.get(i).asLong();
            return Tensor.of(v, shape);
        }
        double[] v = new double[data.size()];
        for (int i = 0; i < v.length; i++) v[i] = data.get(i).asDouble();
        return Tensor.of(v, shape);
    }

    /** Equal within 1e-10 relative to the scale of expected; NaN only where expected is NaN. */
    static void assertClose(String what, Tensor expected, Tensor actual) {
        assertEquals(java.util.Arrays.toString(expected.shape()), java.util.Arrays.toString(actual.shape()), what + ": shape");
        double[] e = expected.toDoubleArray(), a = actual.toDoubleArray();
        double scale = 1e-3;
        for (double v : e) if (Double.isFinite(v)) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < e.length; i++) {
            boolean ok = Double.isNaN(e[i]) ? Double.isNaN(a[i]) : Math.abs(e[i] - a[i]) <= 1e-10 * scale;
            if (!ok) fail(what + ": element " + i + " expected " + e[i] + ", got " + a[i]);
        }
    }

    static Reduction reduction(JsonNode opts) { return Reduction.valueOf(opts.get("reduction").asText()); }

    static Tensor call(String fn, Map<String, Tensor> a, JsonNode o) {
        Reduction r = reduction(o);
        return switch (fn) {
            case "crossEntropy" -> Losses.crossEntropy(a.get("x"), a.get("y"), CrossEntropy.Options.DEFAULT.withWeight(a.get("weight"))
                    .withIgnoreIndex(o.get("ignoreIndex").asLong()).withLabelSmoothing(o.get("labelSmoothing").asDouble()).withReduction(r));
            case "nll" -> Losses.nll(a.get("x"), a.get("y"), CrossEntropy.Options.DEFAULT.withWeight(a.get("weight"))
                    .withIgnoreIndex(o.get("ignoreIndex").asLong()).withReduction(r));
            case "mse" -> Losses.mse(a.get("x"), a.get("y"), r);
            case "l1" -> Losses.l1(a.get("x"), a.get("y"), r);
            case "smoothL1" -> Losses.smoothL1(a.get("x"), a.get("y"), o.get("beta").asDouble(), r);
            case "huber" -> Losses.huber(a.get("x"), a.get("y"), o.get("delta").asDouble(), r);
            case "klDiv" -> Losses.klDiv(a.get("x"), a.get("y"), r, o.get("logTarget").asBoolean());
            case "bceWithLogits" -> Losses.bceWithLogits(a.get("x"), a.get("y"), a.get("weight"), a.get("posWeight"), r);
            default -> throw new IllegalArgumentException("unknown loss " + fn);
        };
    }

    @TestFactory
    List<DynamicTest> matchesPyTorch() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : load("/reference/losses.json")) {
            tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> {
                Map<String, Tensor> args = new LinkedHashMap<>();
                c.get("args").fields().forEachRemaining(e -> args.put(e.getKey(), tensor(e.getValue())));
                c.get("grads").fieldNames().forEachRemaining(k -> args.get(k).requiresGrad(true));
                Tensor out = call(c.get("fn").asText(), args, c.get("opts"));
                assertClose(c.get("name").asText() + " loss", tensor(c.get("out")), out);
                out.mul(tensor(c.get("r"))).sum().backward();
                c.get("grads").fields().forEachRemaining(e -> {
                    Tensor g = args.get(e.getKey()).grad();
                    assertClose(c.get("name").asText() + " grad " + e.getKey(), tensor(e.getValue()), g == null ? Tensor.zerosLike(args.get(e.getKey())) : g);
                });
            }));
        }
        return tests;
    }
}
