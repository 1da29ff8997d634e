package dev.fluxion.optim;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** clipGradNorm against torch.nn.utils.clip_grad_norm_ (norm 2), within Reference.RTOL of each tensor's scale. */
class ClippingTest {
    private static final JsonNode REF = Reference.load("clip.json");

    private static List<Tensor> paramsWithGrads() {
        List<Tensor> ps = new ArrayList<>();
        for (JsonNode g : REF.get("grads")) {
            Tensor grad = Reference.tensor(g);
            Tensor p = Tensor.zeros(grad.shape()).requiresGrad(true);
            p.setGrad(grad);
            ps.add(p);
        }
        return ps;
    }

    @Test void matchesPyTorch() {
        for (JsonNode c : REF.get("cases")) {
            double maxNorm = c.get("max_norm").asDouble();
            List<Tensor> ps = paramsWithGrads();
            Tensor total = Clipping.clipGradNorm(ps, maxNorm);
            double expected = c.get("total_norm").asDouble();
            assertEquals(0, total.dim());
            assertEquals(expected, total.item(), Reference.RTOL * expected, "total norm, maxNorm " + maxNorm);
            for (int i = 0; i < ps.size(); i++)
                Reference.assertClose("maxNorm " + maxNorm + ", gradient " + i, Reference.tensor(c.get("clipped").get(i)), ps.get(i).grad());
        }
    }

    @Test void gradientsUnderTheLimitAreUnchanged() {
        List<Tensor> ps = paramsWithGrads();
        float[] before = ps.get(1).grad().toFloatArray();
        Clipping.clipGradNorm(ps, 1e6);
        assertArrayEquals(before, ps.get(1).grad().toFloatArray());
    }

    @Test void parametersWithoutGradientsAreSkipped() {
        List<Tensor> ps = paramsWithGrads();
        Tensor none = Tensor.zeros(3).requiresGrad(true);
        List<Tensor> withNone = new ArrayList<>(ps);
        withNone.add(1, none);
        double expected = REF.get("cases").get(0).get("total_norm").asDouble();
        assertEquals(expected, Clipping.clipGradNorm(withNone, 1.0).item(), Reference.RTOL * expected);
        assertNull(none.grad());
        assertEquals(0.0, Clipping.clipGradNorm(List.of(none), 1.0).item());
    }

    @Test void badMaxNormIsRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> Clipping.clipGradNorm(paramsWithGrads(), -1));
        assertEquals("clipGradNorm: maxNorm must be >= 0, got -1.0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Clipping.clipGradNorm(paramsWithGrads(), Double.NaN));
        assertEquals("clipGradNorm: maxNorm must be >= 0, got NaN", e.getMessage());
    }
}
