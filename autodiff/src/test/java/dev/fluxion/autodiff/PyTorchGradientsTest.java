package dev.fluxion.autodiff;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gradients of a small MLP and of a causal self-attention block against PyTorch, in float32.
 * Reference: autodiff/src/test/python/make_reference.py -> reference/gradients.json (inputs included).
 */
class PyTorchGradientsTest {
    private static JsonNode ref;

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = PyTorchGradientsTest.class.getResourceAsStream("/reference/gradients.json")) {
            ref = new ObjectMapper().readTree(in);
        }
    }

    static Tensor tensor(JsonNode n) {
        int[] shape = new int[n.get("shape").size()];
        for (int i = 0; i < shape.length; i++) shape[i] = n.get("shape").get(i).asInt();
        float[] data = new float[n.get("data").size()];
        for (int i = 0; i < data.length; i++) data[i] = (float) n.get("data").get(i).asDouble();
        return Tensor.of(data, shape);
    }

    private static Map<String, Tensor> params(JsonNode model) {
        Map<String, Tensor> p = new LinkedHashMap<>();
        model.get("params").fields().forEachRemaining(e -> p.put(e.getKey(), tensor(e.getValue()).requiresGrad(true)));
        return p;
    }

    /** max |a - b| / max |b| <= 1e-5 (relative to the tensor's scale). */
    static void assertGradClose(String name, Tensor expected, Tensor actual) {
        float[] e = expected.toFloatArray(), a = actual.toFloatArray();
        assertEquals(e.length, a.length, name + ": size");
        double scale = 0, err = 0;
        int worst = 0;
        for (int i = 0; i < e.length; i++) {
            scale = Math.max(scale, Math.abs(e[i]));
            double d = Math.abs(e[i] - a[i]);
            if (d > err) { err = d; worst = i; }
        }
        assertTrue(err <= 1e-5 * scale, name + ": element " + worst + " differs: expected " + e[worst] + ", got " + a[worst]
                + " (relative error " + err / scale + ")");
    }

    @Test
    void mlpGradientsMatchPyTorch() {
        JsonNode m = ref.get("mlp");
        Map<String, Tensor> p = params(m);
        Tensor x = tensor(m.get("inputs").get("x"));
        JsonNode yNode = m.get("inputs").get("y").get("data");
        long[] y = new long[yNode.size()];
        for (int i = 0; i < y.length; i++) y[i] = yNode.get(i).asLong();
        Tensor h = x.matmul(p.get("w1")).add(p.get("b1")).gelu();
        Tensor logits = h.matmul(p.get("w2")).add(p.get("b2"));
        Tensor loss = logits.logSoftmax(-1).gather(1, Tensor.of(y, y.length, 1)).mean().neg();
        assertEquals(m.get("loss").asDouble(), loss.item(), 1e-5 * Math.abs(m.get("loss").asDouble()));
        loss.backward();
        m.get("grads").fields().forEachRemaining(e -> assertGradClose("mlp " + e.getKey(), tensor(e.getValue()), p.get(e.getKey()).grad()));
    }

    @Test
    void causalAttentionGradientsMatchPyTorch() { causalAttentionBlock(false); }

    /** The same block with attention as the fused op (its own backward rule, keeping P instead of the scores). */
    @Test
    void fusedAttentionGradientsMatchPyTorch() { causalAttentionBlock(true); }

    private void causalAttentionBlock(boolean fused) {
        JsonNode m = ref.get("attention");
        JsonNode c = m.get("config");
        int b = c.get("B").asInt(), t = c.get("T").asInt(), ch = c.get("C").asInt(), heads = c.get("H").asInt(), d = ch / heads;
        Map<String, Tensor> p = params(m);
        Tensor x = tensor(m.get("inputs").get("x")).requiresGrad(true);
        Tensor r = tensor(m.get("inputs").get("r"));

        Tensor mu = x.mean(-1, true);
        Tensor centered = x.sub(mu);
        Tensor var = centered.pow(2).mean(-1, true);
        Tensor h = centered.div(var.add(1e-5).sqrt()).mul(p.get("ln_w")).add(p.get("ln_b"));
        Tensor q = h.matmul(p.get("wq")).reshape(b, t, heads, d).transpose(1, 2);   // (B, H, T, D)
        Tensor k = h.matmul(p.get("wk")).reshape(b, t, heads, d).transpose(1, 2);
        Tensor v = h.matmul(p.get("wv")).reshape(b, t, heads, d).transpose(1, 2);
        Tensor y;
        if (fused) {
            y = new dev.fluxion.tensor.AttentionOp(1 / Math.sqrt(d), true, false, false).apply(q, k, v);
        } else {
            Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(d));
            Tensor future = Tensor.ones(t, t).tril().eq(0);
            att = att.maskedFill(future, Double.NEGATIVE_INFINITY).softmax(-1);
            y = att.matmul(v);
        }
        Tensor o = y.transpose(1, 2).reshape(b, t, ch).matmul(p.get("wo"));
        Tensor loss = x.add(o).mul(r).sum();
        assertEquals(m.get("loss").asDouble(), loss.item(), 1e-5 * Math.abs(m.get("loss").asDouble()));
        loss.backward();
        m.get("grads").fields().forEachRemaining(e -> {
            Tensor actual = e.getKey().equals("x") ? x.grad() : p.get(e.getKey()).grad();
            assertGradClose("attention " + e.getKey(), tensor(e.getValue()), actual);
        });
    }
}
