package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModuleTest {
    private static Sequential mlp(long seed) {
        Init init = Init.seed(seed);
        return new Sequential(new Linear(4, 8, true, init), new ReLU(), new Dropout(0.5, init), new Linear(8, 2, false, init));
    }

    @Test
    void namesParametersWithDotsInRegistrationOrder() {
        Sequential m = mlp(1);
        assertEquals(List.of("0.weight", "0.bias", "3.weight"), List.copyOf(m.namedParameters().keySet()));
        assertEquals(4 * 8 + 8 + 8 * 2, m.parameterCount());
        assertTrue(m.parameters().stream().allMatch(Tensor::requiresGrad));
    }

    @Test
    void printsAReadableTree() {
        String expected = """
                Sequential(
                  (0): Linear(in=4, out=8, bias=true)
                  (1): ReLU()
                  (2): Dropout(p=0.5)
                  (3): Linear(in=8, out=2, bias=false)
                )""";
        assertEquals(expected, mlp(1).toString());
    }

    @Test
    void trainAndEvalReachEveryDescendant() {
        Sequential m = mlp(1);
        m.eval();
        int[] seen = {0};
        m.apply(c -> { assertFalse(c.isTraining()); seen[0]++; });
        assertEquals(5, seen[0], "apply visits the four children and the container");
        Tensor x = Tensor.ones(3, 4);
        assertArrayEquals(m.forward(x).toFloatArray(), m.forward(x).toFloatArray(), "dropout is off in eval mode");
        m.train();
        assertTrue(m.get(2).isTraining());
    }

    @Test
    void seededInitIsReproducibleAndStateDictRoundTrips() {
        Sequential a = mlp(7), b = mlp(7), c = mlp(8);
        assertArrayEquals(a.parameters().get(0).toFloatArray(), b.parameters().get(0).toFloatArray());
        assertNotEquals(a.parameters().get(0).toFloatArray()[0], c.parameters().get(0).toFloatArray()[0]);
        c.loadStateDict(a.stateDict());
        a.eval();
        c.eval();
        Tensor x = Tensor.ones(2, 4);
        assertArrayEquals(a.forward(x).toFloatArray(), c.forward(x).toFloatArray());
    }

    @Test
    void loadStateDictRefusesMismatchesAndWritesNothing() {
        Sequential m = mlp(1);
        float[] before = m.parameters().get(0).toFloatArray();
        Map<String, Tensor> bad = new java.util.LinkedHashMap<>(mlp(2).stateDict());
        bad.remove("0.bias");
        bad.put("9.weight", Tensor.ones(1));
        var e = assertThrows(IllegalArgumentException.class, () -> m.loadStateDict(bad));
        assertTrue(e.getMessage().contains("missing keys [0.bias]") && e.getMessage().contains("unexpected keys [9.weight]"), e.getMessage());
        Map<String, Tensor> wrongShape = new java.util.LinkedHashMap<>(mlp(2).stateDict());
        wrongShape.put("3.weight", Tensor.ones(3, 8));
        e = assertThrows(IllegalArgumentException.class, () -> m.loadStateDict(wrongShape));
        assertTrue(e.getMessage().contains("'3.weight' has shape [3, 8] in the state, [2, 8] in the module"), e.getMessage());
        assertArrayEquals(before, m.parameters().get(0).toFloatArray(), "nothing was written");
    }

    @Test
    void gptConfigIsValidatedAndTheModelPrints() {
        var e = assertThrows(IllegalArgumentException.class, () -> new Gpt.Config(256, 128, 4, 3, 256, 0));
        assertTrue(e.getMessage().contains("width 256 must be divisible by heads 3"), e.getMessage());
        Gpt g = new Gpt(new Gpt.Config(16, 8, 1, 2, 8, 0), Init.seed(0));
        assertTrue(g.toString().startsWith("Gpt(\n  params=" + g.parameterCount() + "\n  (tokens): Embedding(16, 8)\n"), g.toString());
        assertTrue(g.toString().contains("(attn): CausalSelfAttention(\n        heads=2\n        (qkv): Linear(in=8, out=24, bias=true)"), g.toString());
        assertArrayEquals(new int[] {2, 5, 16}, g.forward(Tensor.zeros(dev.fluxion.tensor.DType.INT64, 2, 5)).shape());
        var tooLong = assertThrows(IllegalArgumentException.class, () -> g.forward(Tensor.zeros(dev.fluxion.tensor.DType.INT64, 1, 9)));
        assertTrue(tooLong.getMessage().contains("sequence length 9 exceeds the context 8"));
    }

    @Test
    void dropoutZeroesAboutPAndScalesTheRest() {
        Dropout d = new Dropout(0.25, Init.seed(9));
        float[] y = d.forward(Tensor.ones(100_000)).toFloatArray();
        int zeros = 0;
        for (float v : y) {
            if (v == 0) zeros++;
            else assertEquals(1 / 0.75f, v, 1e-6f, "kept elements are scaled by 1/(1-p)");
        }
        assertEquals(0.25, zeros / 100_000.0, 0.01, "fraction dropped");
        d.eval();
        assertArrayEquals(Tensor.ones(10).toFloatArray(), d.forward(Tensor.ones(10)).toFloatArray(), "identity in eval mode");
    }

    @Test
    void lossesRefuseBadTargets() {
        var e = assertThrows(IndexOutOfBoundsException.class, () -> Losses.crossEntropy(Tensor.zeros(2, 3), Tensor.of(new long[] {0, 3}, 2)));
        assertTrue(e.getMessage().contains("target 3 at position 1 is outside [0, 3)"), e.getMessage());
        var s = assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropy(Tensor.zeros(2, 3), Tensor.of(new long[] {0, 1, 2}, 3)));
        assertTrue(s.getMessage().contains("logits [2, 3] and targets [3]"), s.getMessage());
    }
}
