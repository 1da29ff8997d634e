package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Gpt.generate: the KV cache against full forwards, and the sampling filters on hand-made distributions. */
class GenerationTest {
    private static final Gpt.Config TINY = new Gpt.Config(13, 12, 2, 2, 16, 0.1);

    private static Gpt model() {
        Gpt m = new Gpt(TINY, Init.seed(3));
        m.eval();
        return m;
    }

    private static Tensor ids(long... v) { return Tensor.of(v, 1, v.length); }

    /** Every step's cached logits equal a full forward of the whole sequence, also for a batch and a chunk. */
    @Test void cachedLogitsEqualFullForwardLogitsAtEveryStep() {
        Gpt model = model();
        long[][] seqs = {{1, 5, 2, 7, 7, 0, 12, 3, 9, 4, 11, 6}, {4, 4, 8, 1, 0, 2, 10, 5, 3, 3, 7, 12}};
        try (var noGrad = Autodiff.noGrad(); var cache = new KvCache(TINY, 2, DType.FLOAT32, Device.CPU)) {
            int prompt = 3;
            long[] flat = new long[2 * prompt];
            for (int r = 0; r < 2; r++) System.arraycopy(seqs[r], 0, flat, r * prompt, prompt);
            check(model, seqs, prompt, model.forwardCached(Tensor.of(flat, 2, prompt), cache));
            for (int len = prompt + 1; len <= TINY.context(); len++) {
                try (var scope = Scope.open()) {
                    long[] next = {seqs[0][len - 1], seqs[1][len - 1]};
                    int step = len - 1;
                    // two tokens at once for one step: the chunk path (causal within the chunk, all of the past)
                    if (len == 8) {
                        long[] two = {seqs[0][len - 1], seqs[0][len], seqs[1][len - 1], seqs[1][len]};
                        check(model, seqs, len + 1, model.forwardCached(Tensor.of(two, 2, 2), cache));
                        len++;
                        continue;
                    }
                    check(model, seqs, len, model.forwardCached(Tensor.of(next, 2, 1), cache));
                    assertEquals(step + 1, cache.length());
                }
            }
            System.out.printf("KV cache: worst |cached - full forward| logit difference over %d positions: %.2e%n", TINY.context(), worst);
            var e = assertThrows(IllegalArgumentException.class, () -> model.forwardCached(ids(1), cache));
            assertEquals("Gpt.forwardCached: 1 tokens after 12 cached exceed the context 12", e.getMessage());
        }
    }

    /** The last positions of cached (B, t, vocab) against forward(ids[:, :len]) (B, len, vocab). */
    private static void check(Gpt model, long[][] seqs, int len, Tensor cached) {
        long[] flat = new long[2 * len];
        for (int r = 0; r < 2; r++) System.arraycopy(seqs[r], 0, flat, r * len, len);
        Tensor full = model.forward(Tensor.of(flat, 2, len));
        int t = cached.size(1);
        float[] expected = full.narrow(1, len - t, t).contiguous().toFloatArray(), actual = cached.toFloatArray();
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-5, "logit " + i + " at length " + len);
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
    }

    private static double worst;   // the largest |cached - full| logit difference seen, printed for the record

    @Test void cachedAndUncachedGenerationGiveTheSameTokensAlsoPastTheContext() {
        Gpt model = model();
        Tensor prompt = Tensor.of(new long[] {1, 2, 3, 4, 5, 6}, 2, 3);
        for (var opts : new Generation.Options[] {Generation.Options.DEFAULT.withTemperature(0), Generation.Options.DEFAULT.withTopK(5).withTopP(0.9)}) {
            opts = opts.withMaxNewTokens(20);   // 3 + 20 > context 12: the cropped window is recomputed
            Tensor a = model.generate(prompt, opts, new Generator(9));
            Tensor b = model.generate(prompt, opts.withCache(false), new Generator(9));
            assertArrayEquals(new int[] {2, 23}, a.shape());
            assertArrayEquals(b.toLongArray(), a.toLongArray(), opts.toString());
            assertArrayEquals(new long[] {1, 2, 3}, Arrays.copyOf(a.toLongArray(), 3), "the prompt comes first");
        }
        assertFalse(model.isTraining());
        model.train();
        model.generate(ids(1), Generation.Options.DEFAULT.withMaxNewTokens(2), new Generator(1));
        assertTrue(model.isTraining(), "the mode is restored");
    }

    @Test void noGradientIsRecordedDuringGeneration() {
        Gpt model = model();
        model.generate(ids(1, 2), Generation.Options.DEFAULT.withMaxNewTokens(3), new Generator(1));
        for (Tensor p : model.parameters()) assertNull(p.grad());
        assertEquals(0, Autodiff.tape().size());
    }

    @Test void topKOneIsGreedyArgmax() {
        Gpt model = model();
        Tensor greedy = model.generate(ids(3, 1), Generation.Options.DEFAULT.withTemperature(0).withMaxNewTokens(8), new Generator(1));
        Tensor topOne = model.generate(ids(3, 1), Generation.Options.DEFAULT.withTopK(1).withTemperature(1.7).withMaxNewTokens(8), new Generator(2));
        assertArrayEquals(greedy.toLongArray(), topOne.toLongArray());
        // and argmax by hand: each greedy token is the argmax of a full forward of what came before
        long[] seq = greedy.toLongArray();
        try (var noGrad = Autodiff.noGrad()) {
            for (int len = 2; len < seq.length; len++) {
                Tensor logits = model.forward(ids(Arrays.copyOf(seq, len))).select(1, len - 1).reshape(-1);
                assertEquals((long) logits.argmax().toLongArray()[0], seq[len], "token " + len);
            }
        }
        float[] tie = {1, 3, 3, 0};
        assertEquals(1, Generation.argmax(tie), "first index on ties");
    }

    @Test void topPKeepsTheSmallestSetReachingP() {
        double[] p = {0.1, 0.4, 0.05, 0.3, 0.15};
        double[] q = p.clone();
        Generation.topP(q, 0.7);                      // 0.4 + 0.3 = 0.7 reaches 0.7: two tokens
        assertArrayEquals(new double[] {0, 0.4 / 0.7, 0, 0.3 / 0.7, 0}, q, 1e-12);
        q = p.clone();
        Generation.topP(q, 0.71);                     // needs the third most likely (0.15)
        assertArrayEquals(new double[] {0, 0.4 / 0.85, 0, 0.3 / 0.85, 0.15 / 0.85}, q, 1e-12);
        q = p.clone();
        Generation.topP(q, 0.01);                     // at least one token
        assertArrayEquals(new double[] {0, 1, 0, 0, 0}, q, 0);
        q = p.clone();
        Generation.topK(q, 2);
        assertArrayEquals(new double[] {0, 0.4 / 0.7, 0, 0.3 / 0.7, 0}, q, 1e-12);
        // sampling follows the kept distribution: 0.4/0.7 of draws land on token 1
        Generator g = new Generator(5);
        int ones = 0, n = 20_000;
        for (int i = 0; i < n; i++) {
            int s = Generation.sample(q, g);
            assertTrue(s == 1 || s == 3, "only kept tokens are drawn");
            if (s == 1) ones++;
        }
        assertEquals(0.4 / 0.7, (double) ones / n, 0.015);
    }

    @Test void temperatureZeroIsGreedyAndBadOptionsAreRefused() {
        float[] logits = {0.5f, 2f, 1.9f};
        Generator g = new Generator(1);
        long before = g.nextLong();
        g = new Generator(1);
        assertEquals(1, Generation.pick(logits, Generation.Options.DEFAULT.withTemperature(0), g));
        assertEquals(before, g.nextLong(), "greedy draws nothing from the generator");
        // a low temperature sharpens towards the argmax
        assertTrue(Generation.probabilities(logits, 0.01)[1] > 0.99);
        var e = assertThrows(IllegalArgumentException.class, () -> Generation.Options.DEFAULT.withTemperature(-1));
        assertEquals("Generation.Options: temperature must be >= 0 and finite (0 = greedy), got -1.0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Generation.Options.DEFAULT.withTopP(0));
        assertEquals("Generation.Options: topP must be in (0, 1] (1 = off), got 0.0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Generation.Options.DEFAULT.withTopK(-2));
        assertEquals("Generation.Options: topK must be >= 0 (0 = off), got -2", e.getMessage());
    }
}
