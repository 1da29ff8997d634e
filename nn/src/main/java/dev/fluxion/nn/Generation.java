package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;
import java.util.Objects;

/**
 * Autoregressive sampling from a {@link Gpt} (what {@link Gpt#generate} runs), as Hugging Face's generate with
 * do_sample: per new token, the last position's logits are divided by the temperature, cut to the topK most
 * likely tokens, then to the smallest set whose probability reaches topP, renormalized and sampled with the
 * generator (one {@code nextDouble()} per row and token).
 *
 * <pre>{@code
 * Tensor out = model.generate(prompt, Generation.Options.DEFAULT.withMaxNewTokens(200).withTopK(40), new Generator(7));
 * }</pre>
 *
 * <ul>
 * <li>temperature 0 means greedy decoding (argmax, the first index on ties) and draws nothing from the
 *     generator; a negative or NaN temperature is refused.
 * <li>topK 0 and topP 1 switch their filter off.
 * <li>With the KV cache (the default) the prompt runs once and each new token runs the model on that token
 *     only. When the sequence reaches the context length, the model sees only the last {@code context} tokens,
 *     as nanoGPT crops: the cache is emptied and that window recomputed for each further token (then each
 *     token costs a full window again). Without the cache every token runs the whole (cropped) sequence.
 * <li>No gradients are recorded, the model runs in eval mode (its mode is restored afterwards), and each
 *     token's temporaries are freed as it is made.
 * </ul>
 */
public final class Generation {
    private Generation() {}

    /** Sampling settings; DEFAULT: 100 new tokens, temperature 1, no top-k, no top-p, KV cache on. */
    public record Options(int maxNewTokens, double temperature, int topK, double topP, boolean useCache) {
        /** 100 new tokens, temperature 1, no top-k or top-p, KV cache on. */
        public static final Options DEFAULT = new Options(100, 1.0, 0, 1.0, true);

        /** Checks the settings; an error names the setting and its value. */
        public Options {
            if (maxNewTokens < 0) throw new IllegalArgumentException("Generation.Options: maxNewTokens must be >= 0, got " + maxNewTokens);
            if (!(temperature >= 0) || Double.isInfinite(temperature))
                throw new IllegalArgumentException("Generation.Options: temperature must be >= 0 and finite (0 = greedy), got " + temperature);
            if (topK < 0) throw new IllegalArgumentException("Generation.Options: topK must be >= 0 (0 = off), got " + topK);
            if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("Generation.Options: topP must be in (0, 1] (1 = off), got " + topP);
        }

        /** These options with maxNewTokens replaced. */
        public Options withMaxNewTokens(int v) { return new Options(v, temperature, topK, topP, useCache); }
        /** These options with temperature (0 = greedy) replaced. */
        public Options withTemperature(double v) { return new Options(maxNewTokens, v, topK, topP, useCache); }
        /** These options with topK (0 = off) replaced. */
        public Options withTopK(int v) { return new Options(maxNewTokens, temperature, v, topP, useCache); }
        /** These options with topP (1 = off) replaced. */
        public Options withTopP(double v) { return new Options(maxNewTokens, temperature, topK, v, useCache); }
        /** These options with useCache replaced. */
        public Options withCache(boolean v) { return new Options(maxNewTokens, temperature, topK, topP, v); }
    }

    /** See {@link Gpt#generate}: prompt (B, T) int64, T >= 1 -> (B, T + maxNewTokens) int64. */
    public static Tensor generate(Gpt model, Tensor prompt, Options options, Generator generator) {
        Objects.requireNonNull(options, "Gpt.generate: options is null");
        Objects.requireNonNull(generator, "Gpt.generate: generator is null");
        if (prompt.dim() != 2 || prompt.size(1) < 1)
            throw new IllegalArgumentException("Gpt.generate: prompt must be (B, T) with T >= 1, got shape " + Arrays.toString(prompt.shape()));
        int b = prompt.size(0), t0 = prompt.size(1), total = t0 + options.maxNewTokens, context = model.config().context();
        long[] flat = prompt.to(DType.INT64).toLongArray();
        long[][] ids = new long[b][total];
        for (int r = 0; r < b; r++) System.arraycopy(flat, r * t0, ids[r], 0, t0);
        boolean training = model.isTraining();
        model.eval();
        KvCache cache = options.useCache ? new KvCache(model.config(), b, model.tokens().parameters().get(0).dtype(), prompt.device()) : null;
        try (var noGrad = Autodiff.noGrad()) {
            for (int len = t0; len < total; len++) {
                try (var scope = Scope.open()) {
                    float[][] logits = nextLogits(model, cache, ids, len, context, prompt);
                    for (int r = 0; r < b; r++) ids[r][len] = pick(logits[r], options, generator);
                }
            }
        } finally {
            if (cache != null) cache.close();
            if (training) model.train();
        }
        long[] out = new long[b * total];
        for (int r = 0; r < b; r++) System.arraycopy(ids[r], 0, out, r * total, total);
        return Tensor.of(out, b, total).to(prompt.device());
    }

    /** Logits (B rows of vocab) for position len given tokens ids[.][0, len). */
    private static float[][] nextLogits(Gpt model, KvCache cache, long[][] ids, int len, int context, Tensor like) {
        int from = Math.max(0, len - context);   // nanoGPT's crop: the model sees at most the last context tokens
        Tensor logits;
        if (cache == null) {
            logits = model.forward(window(ids, from, len, like));
        } else if (cache.length() > 0 && from == 0) {
            logits = model.forwardCached(window(ids, len - 1, len, like), cache);      // only the newest token
        } else {
            cache.reset();                                                          // the prompt, or a cropped window
            logits = model.forwardCached(window(ids, from, len, like), cache);
        }
        Tensor last = logits.select(1, logits.size(1) - 1).to(DType.FLOAT32);       // (B, vocab)
        int b = ids.length, v = last.size(1);
        float[] all = last.toFloatArray();
        float[][] out = new float[b][];
        for (int r = 0; r < b; r++) out[r] = Arrays.copyOfRange(all, r * v, (r + 1) * v);
        return out;
    }

    private static Tensor window(long[][] ids, int from, int to, Tensor like) {
        long[] w = new long[ids.length * (to - from)];
        for (int r = 0; r < ids.length; r++) System.arraycopy(ids[r], from, w, r * (to - from), to - from);
        return Tensor.of(w, ids.length, to - from).to(like.device());
    }

    /** One token from one row of logits with these options (greedy at temperature 0). */
    public static int pick(float[] logits, Options options, Generator generator) {
        if (options.temperature == 0) return argmax(logits);
        double[] p = probabilities(logits, options.temperature);
        if (options.topK > 0) topK(p, options.topK);
        if (options.topP < 1) topP(p, options.topP);
        return sample(p, generator);
    }

    /** softmax(logits / temperature) in double. */
    public static double[] probabilities(float[] logits, double temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l / temperature);
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp(logits[i] / temperature - max);
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }

    /** Zeroes every probability but the k largest (ties at the k-th value kept, as torch's topk threshold) and renormalizes. */
    public static void topK(double[] p, int k) {
        if (k >= p.length) return;
        double[] sorted = p.clone();
        Arrays.sort(sorted);
        double threshold = sorted[p.length - k];
        for (int i = 0; i < p.length; i++) if (p[i] < threshold) p[i] = 0;
        normalize(p);
    }

    /**
     * Keeps the smallest set of most likely tokens whose probabilities sum to at least topP (at least one
     * token; ties broken by the lower index) and renormalizes.
     */
    public static void topP(double[] p, double topP) {
        Integer[] order = new Integer[p.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, c) -> p[a] != p[c] ? Double.compare(p[c], p[a]) : Integer.compare(a, c));
        double total = 0;
        for (double x : p) total += x;
        double acc = 0;
        int kept = 0;
        while (kept < order.length && (kept == 0 || acc < topP * total)) acc += p[order[kept++]];
        for (int j = kept; j < order.length; j++) p[order[j]] = 0;
        normalize(p);
    }

    /** The index the cumulative distribution reaches u = generator.nextDouble() at. */
    public static int sample(double[] p, Generator generator) {
        double u = generator.nextDouble(), acc = 0;
        int last = -1;
        for (int i = 0; i < p.length; i++) {
            if (p[i] <= 0) continue;
            last = i;
            acc += p[i];
            if (u < acc) return i;
        }
        return last;   // rounding left the sum just under 1
    }

    /** The index of the largest logit, the first on ties (as torch.argmax). */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    private static void normalize(double[] p) {
        double sum = 0;
        for (double x : p) sum += x;
        for (int i = 0; i < p.length; i++) p[i] /= sum;
    }
}
