package dev.fluxion.optim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The PyTorch reference files (optim/src/test/python/make_reference.py -> resources/reference/*.json) and the
 * fixed problem they were computed on.
 */
final class Reference {
    private Reference() {}

    /** Tolerance for parameters against PyTorch, relative to the tensor's scale; see {@link #assertClose}. */
    static final double RTOL = 1e-6;

    /**
     * Tolerance for optimizer state buffers after 20 steps. Momentum buffers accumulate normalised gradients
     * and amplify float32 rounding: PyTorch's own float32 run differs from its float64 run by 1.3e-6 in
     * RMSProp's momentum buffer and 1.1e-6 in SGD's (measured with make_reference.py's problem).
     */
    static final double STATE_RTOL = 1e-5;

    static JsonNode load(String file) {
        try (InputStream in = Reference.class.getResourceAsStream("/reference/" + file)) {
            if (in == null) throw new IllegalStateException("missing test resource /reference/" + file + "; run make_reference.py");
            return new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A float32 tensor from {"shape": [...], "data": [...]} (float32 values written exactly as doubles). */
    static Tensor tensor(JsonNode n) {
        int[] shape = new int[n.get("shape").size()];
        for (int i = 0; i < shape.length; i++) shape[i] = n.get("shape").get(i).asInt();
        float[] data = new float[n.get("data").size()];
        for (int i = 0; i < data.length; i++) data[i] = (float) n.get("data").get(i).asDouble();
        return Tensor.of(data, shape);
    }

    // ---------------------------------------------------------------- the problem (see make_reference.py)

    static final JsonNode PROBLEM = load("problem.json");
    static final Tensor X = Scope.escape(tensor(PROBLEM.get("X")));   // (8, 3); escapes a step scope that loads this class
    static final Tensor Y = Scope.escape(tensor(PROBLEM.get("Y")));   // (8, 4)

    /** Fresh copies of the initial W (4, 3), b (4) and c (6), requiring gradients. */
    static Map<String, Tensor> freshParams() {
        Map<String, Tensor> p = new LinkedHashMap<>();
        PROBLEM.get("params").fields().forEachRemaining(e -> p.put(e.getKey(), tensor(e.getValue()).requiresGrad(true)));
        return p;
    }

    /** L = sum((X W^T + b - Y)^2) / 8 + sum(exp(c / 2)). */
    static Tensor loss(Map<String, Tensor> p) {
        Tensor r = X.matmul(p.get("W").t()).add(p.get("b")).sub(Y);
        return r.mul(r).sum().div(8).add(p.get("c").div(2).exp().sum());
    }

    /**
     * The tolerance rule: max_i |actual_i - expected_i| <= RTOL * max_i |expected_i|, over all elements of one
     * tensor (an error relative to the tensor's scale, so elements that pass near zero do not need an
     * absolute floor of their own).
     */
    static double assertClose(String what, Tensor expected, Tensor actual) { return assertClose(what, expected, actual, RTOL); }

    /** As {@link #assertClose(String, Tensor, Tensor)} with another tolerance; returns the error found. */
    static double assertClose(String what, Tensor expected, Tensor actual, double rtol) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        float[] e = expected.toFloatArray(), a = actual.toFloatArray();
        double scale = 0, err = 0;
        int worst = 0;
        for (int i = 0; i < e.length; i++) {
            scale = Math.max(scale, Math.abs(e[i]));
            double d = Math.abs((double) e[i] - a[i]);
            if (d > err || Double.isNaN(d)) { err = d; worst = i; }
        }
        assertTrue(err <= rtol * scale, what + ": element " + worst + " differs: expected " + e[worst] + ", got " + a[worst]
                + " (error " + err / scale + " of the tensor's max |value| " + scale + ", tolerance " + rtol + ")");
        return scale == 0 ? err : err / scale;
    }
}
