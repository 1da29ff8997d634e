package dev.fluxion.tensor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One reference file written by src/test/python/make_reference.py: named input tensors and cases
 * (op, args, input names, expected outputs). See the script for the format.
 */
final class Reference {
    /** One PyTorch evaluation: op applied to inputs with args gave outputs. */
    record Case(String name, String op, JsonNode args, List<String> inputs, List<JsonNode> outputs) {
        @Override public String toString() { return name; }
    }

    final String torchVersion;
    private final JsonNode tensors;
    final List<Case> cases = new ArrayList<>();

    private Reference(JsonNode root) {
        torchVersion = root.get("torch").asText();
        tensors = root.get("tensors");
        for (JsonNode c : root.get("cases")) {
            List<String> inputs = new ArrayList<>();
            c.get("inputs").forEach(n -> inputs.add(n.asText()));
            List<JsonNode> outputs = new ArrayList<>();
            c.get("outputs").forEach(outputs::add);
            cases.add(new Case(c.get("name").asText(), c.get("op").asText(), c.get("args"), inputs, outputs));
        }
    }

    static Reference load(String file) {
        String path = "/reference/" + file;
        try (InputStream in = Reference.class.getResourceAsStream(path)) {
            if (in == null) throw new IllegalStateException(path + " is missing; run tensor/src/test/python/make_reference.py");
            return new Reference(new ObjectMapper().readTree(in));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A fresh tensor holding the named input. */
    Tensor input(String name) {
        JsonNode t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException("no tensor " + name + " in the reference file");
        return tensor(t);
    }

    static DType dtype(String name) { return DType.valueOf(name.toUpperCase(Locale.ROOT)); }

    static int[] shape(JsonNode t) {
        JsonNode s = t.get("shape");
        int[] shape = new int[s.size()];
        for (int i = 0; i < shape.length; i++) shape[i] = s.get(i).asInt();
        return shape;
    }

    /** Builds the tensor a JSON tensor object describes, with exactly its values. */
    static Tensor tensor(JsonNode t) {
        DType dt = dtype(t.get("dtype").asText());
        int[] shape = shape(t);
        if (t.has("bits")) {
            JsonNode b = t.get("bits");
            short[] bits = new short[b.size()];
            for (int i = 0; i < bits.length; i++) bits[i] = (short) b.get(i).asInt();
            return TensorAssert.fromBits16(dt, bits, shape);
        }
        JsonNode d = t.get("data");
        int n = d.size();
        switch (dt) {
            case FLOAT32 -> {
                float[] v = new float[n];
                for (int i = 0; i < n; i++) v[i] = (float) number(d.get(i)); // the JSON holds the float's exact value
                return Tensor.of(v, shape);
            }
            case FLOAT64 -> {
                double[] v = new double[n];
                for (int i = 0; i < n; i++) v[i] = number(d.get(i));
                return Tensor.of(v, shape);
            }
            case INT32 -> {
                int[] v = new int[n];
                for (int i = 0; i < n; i++) v[i] = d.get(i).asInt();
                return Tensor.of(v, shape);
            }
            case BOOL -> {
                boolean[] v = new boolean[n];
                for (int i = 0; i < n; i++) v[i] = d.get(i).asInt() != 0;
                return Tensor.of(v, shape);
            }
            default -> {                                    // int64, int8, uint8 (in range of their dtype)
                long[] v = new long[n];
                for (int i = 0; i < n; i++) v[i] = d.get(i).asLong();
                Tensor l = Tensor.of(v, shape);
                return dt == DType.INT64 ? l : l.to(dt);
            }
        }
    }

    /** A JSON number, or one of the strings "NaN", "Infinity", "-Infinity". */
    static double number(JsonNode n) {
        return n.isTextual() ? Double.parseDouble(n.asText()) : n.asDouble();
    }
}
