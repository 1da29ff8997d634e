package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * A GPT-2 style decoder: token + position embeddings, pre-norm transformer blocks, a final LayerNorm and
 * a linear head.  ids: (B, T) int64, T &lt;= context -> logits (B, T, vocab).
 * Weights are initialised as GPT-2: N(0, 0.02), biases 0, residual projections N(0, 0.02/sqrt(2 layers)).
 */
public final class Gpt extends Module {
    /** The model's size. {@code new Gpt.Config(256, 128, 4, 4, 256, 0.0)} is the small benchmark model. */
    public record Config(int vocab, int context, int layers, int heads, int width, double dropout) {
        /** The small benchmark model: 256 byte tokens, context 128, 4 layers of 4 heads, width 256, no dropout. */
        public static final Config SMALL = new Config(256, 128, 4, 4, 256, 0.0);

        /** Checks every setting; an error names the setting and its value. */
        public Config {
            if (vocab <= 0 || context <= 0 || layers <= 0 || heads <= 0 || width <= 0)
                throw new IllegalArgumentException("Gpt.Config: sizes must be positive: " + vocabLine(vocab, context, layers, heads, width));
            if (width % heads != 0) throw new IllegalArgumentException("Gpt.Config: width " + width + " must be divisible by heads " + heads);
            Checks.probability("Gpt.Config", "dropout", dropout);
        }

        private static String vocabLine(int v, int c, int l, int h, int w) {
            return "vocab=" + v + ", context=" + c + ", layers=" + l + ", heads=" + h + ", width=" + w;
        }

        /** This config with layers replaced. */
        public Config withLayers(int n) { return new Config(vocab, context, n, heads, width, dropout); }

        /** This config with width replaced. */
        public Config withWidth(int w) { return new Config(vocab, context, layers, heads, w, dropout); }

        /** This config with heads replaced. */
        public Config withHeads(int h) { return new Config(vocab, context, layers, h, width, dropout); }

        /** This config with context replaced. */
        public Config withContext(int c) { return new Config(vocab, c, layers, heads, width, dropout); }

        /** This config with vocab replaced. */
        public Config withVocab(int v) { return new Config(v, context, layers, heads, width, dropout); }

        /** This config with dropout replaced. */
        public Config withDropout(double d) { return new Config(vocab, context, layers, heads, width, d); }
    }

    private final Config config;
    private final Child<Module> tokens, positions;       // (vocab, C), (context, C)
    private final Child<Module> dropout;
    private final ModuleList<Module> blocks;             // layers x TransformerBlock, each replaceable ("blocks.3")
    private final Child<Module> lnF;
    private final Child<Module> head;                    // C -> vocab

    /** A GPT of the given size, its weights drawn from init as GPT-2 initializes them. */
    public Gpt(Config config, Init init) {
        this.config = config;
        this.tokens = child("tokens", new Embedding(config.vocab(), config.width(), init));
        this.positions = child("positions", new Embedding(config.context(), config.width(), init));
        this.dropout = child("dropout", new Dropout(config.dropout(), init));
        List<Module> list = new ArrayList<>();
        for (int i = 0; i < config.layers(); i++) list.add(new TransformerBlock(config.width(), config.heads(), config.dropout(), init));
        this.blocks = register("blocks", new ModuleList<>(list));
        this.lnF = child("lnF", new LayerNorm(config.width(), init));
        this.head = child("head", new Linear(config.width(), config.vocab(), false, init));
        gpt2Init(init);
    }

    private void gpt2Init(Init init) {
        double residualStd = 0.02 / Math.sqrt(2.0 * config.layers());
        try (var off = Autodiff.noGrad()) {
            for (var e : namedParameters().entrySet()) {
                String name = e.getKey();
                Tensor p = e.getValue();
                if (name.startsWith("ln") || name.contains(".ln")) continue;                 // LayerNorm keeps 1 and 0
                if (name.endsWith("bias")) p.zero_();
                else if (name.endsWith("proj.weight") || name.endsWith("mlp.2.weight")) p.copy_(init.normal(0, residualStd, p.shape()));
                else p.copy_(init.normal(0, 0.02, p.shape()));
            }
        }
    }

    /** The size this model was built with. */
    public Config config() { return config; }

    // ---------------------------------------------------------------- parts (pipeline stages, per-block sharding)

    /** The token embedding now at "tokens". */
    public Module tokens() { return tokens.get(); }

    /** The position embedding now at "positions". */
    public Module positions() { return positions.get(); }

    /** The blocks; each can be replaced by path ("blocks.3") or wrapped per block. */
    public ModuleList<Module> blocks() { return blocks; }

    /** The final LayerNorm now at "lnF". */
    public Module finalNorm() { return lnF.get(); }

    /** The output projection now at "head". */
    public Module head() { return head.get(); }

    /** The first part of forward: token + position embeddings, then dropout.  ids (B, T) int64 -> (B, T, C). */
    public Tensor embed(Tensor ids) { return embed(tokens.get(), positions.get(), dropout.get(), config.context(), ids); }

    private static Tensor embed(Module tokens, Module positions, Module dropout, int context, Tensor ids) {
        if (ids.dim() != 2) throw new IllegalArgumentException("Gpt.forward: ids must be (B, T), got rank " + ids.dim());
        int t = ids.size(1);
        if (t > context) throw new IllegalArgumentException("Gpt.forward: sequence length " + t + " exceeds the context " + context);
        Tensor pos = Tensor.arange(0, t, 1, DType.INT64, ids.device());
        return dropout.forward(tokens.forward(ids).add(positions.forward(pos)));       // (B, T, C)
    }

    /**
     * Logits of t new tokens at positions cache.length().. given the earlier tokens' keys and values in
     * {@code cache}, which this call extends by t: ids (B, t) int64 -> logits (B, t, vocab). Runs every block
     * with {@link TransformerBlock#forwardCached}; used by {@link #generate}. Fails when the tokens would pass
     * the context (reset the cache and recompute the last window).
     */
    public Tensor forwardCached(Tensor ids, KvCache cache) {
        if (ids.dim() != 2) throw new IllegalArgumentException("Gpt.forwardCached: ids must be (B, t), got rank " + ids.dim());
        int t = ids.size(1), from = cache.length();
        if (from + t > config.context())
            throw new IllegalArgumentException("Gpt.forwardCached: " + t + " tokens after " + from + " cached exceed the context " + config.context());
        Tensor pos = Tensor.arange(from, from + t, 1, DType.INT64, ids.device());
        Tensor x = dropout.forward(tokens.forward(ids).add(positions.forward(pos)));             // (B, t, C)
        for (int i = 0; i < blocks.size(); i++) {
            if (!(blocks.get(i) instanceof TransformerBlock block))
                throw new IllegalStateException("Gpt.forwardCached: a KV cache needs a TransformerBlock at blocks." + i + ", got "
                        + blocks.get(i).getClass().getSimpleName() + "; generate without the cache");
            x = block.forwardCached(x, cache, i);
        }
        cache.advance(t);
        return logits(x);                                                                     // (B, t, vocab)
    }

    /**
     * Continues each row of {@code prompt} (B, T) int64 by {@code options.maxNewTokens()} sampled tokens and
     * returns (B, T + maxNewTokens) int64; see {@link Generation} for the sampling (temperature, top-k, top-p),
     * the KV cache and what happens at the context length.
     */
    public Tensor generate(Tensor prompt, Generation.Options options, Generator generator) {
        return Generation.generate(this, prompt, options, generator);
    }

    /** Blocks from (inclusive) to to (exclusive), in order.  x (B, T, C) -> (B, T, C). */
    public Tensor forwardBlocks(int from, int to, Tensor x) { return forwardBlocks(from, to, x, null); }

    /** As {@link #forwardBlocks(int, int, Tensor)} with an attention mask (see {@link CausalSelfAttention}), or null. */
    public Tensor forwardBlocks(int from, int to, Tensor x, Tensor mask) {
        checkRange(from, to);
        for (int i = from; i < to; i++) x = mask == null ? blocks.get(i).forward(x) : blocks.get(i).forward(x, mask);
        return x;
    }

    /** The last part of forward: final norm, then head.  x (B, T, C) -> logits (B, T, vocab). */
    public Tensor logits(Tensor x) { return head.forward(lnF.forward(x)); }

    /** forward(ids) or forward(ids, mask): logits (B, T, vocab) = logits(forwardBlocks(0, layers, embed(ids), mask)). */
    @Override protected Tensor compute(Tensor... inputs) {
        checkInputs(inputs, 1, 2);
        Tensor mask = inputs.length > 1 ? inputs[1] : null;
        return logits(forwardBlocks(0, blocks.size(), embed(inputs[0]), mask));   // (B, T, vocab)
    }

    /**
     * A pipeline stage: the modules of blocks [from, to), with the embeddings if from == 0 and the final norm
     * and head if to == layers, under the same names as in this model (its stateDict is a subset of this
     * one's). Stage 0 takes ids (B, T); the others take activations (B, T, C); the last returns logits. A
     * stage shares this model's modules as they are when it is made: make stages after replacing any.
     */
    public Module stage(int from, int to) {
        checkRange(from, to);
        return new Stage(this, from, to);
    }

    private void checkRange(int from, int to) {
        if (from < 0 || to > blocks.size() || from > to)
            throw new IllegalArgumentException("Gpt: block range [" + from + ", " + to + ") must lie in [0, " + blocks.size() + "]");
    }

    /** Embeddings (first stage), some blocks, final norm and head (last stage); forward(x) or forward(x, mask). */
    private static final class Stage extends Module {
        private final int context;
        private final Module tokens, positions, dropout, lnF, head;   // null where this stage has no such part
        private final List<Module> blocks = new ArrayList<>();

        Stage(Gpt gpt, int from, int to) {
            this.context = gpt.config.context();
            boolean first = from == 0, last = to == gpt.blocks.size();
            this.tokens = first ? register("tokens", gpt.tokens()) : null;
            this.positions = first ? register("positions", gpt.positions()) : null;
            this.dropout = first ? register("dropout", gpt.dropout.get()) : null;
            Blocks range = register("blocks", new Blocks());
            for (int i = from; i < to; i++) blocks.add(range.add(i, gpt.blocks.get(i)));
            this.lnF = last ? register("lnF", gpt.finalNorm()) : null;
            this.head = last ? register("head", gpt.head()) : null;
        }

        @Override protected Tensor compute(Tensor... inputs) {
            checkInputs(inputs, 1, 2);
            Tensor x = inputs[0], mask = inputs.length > 1 ? inputs[1] : null;
            if (tokens != null) x = embed(tokens, positions, dropout, context, x);
            for (Module b : blocks) x = mask == null ? b.forward(x) : b.forward(x, mask);
            return lnF == null ? x : head.forward(lnF.forward(x));
        }
    }

    /** Blocks under their index in the whole model ("blocks.2" in the stage that starts at block 2). */
    private static final class Blocks extends Module {
        Module add(int index, Module block) { return register(Integer.toString(index), block); }

        @Override protected Tensor compute(Tensor... inputs) {
            throw new IllegalStateException("Gpt stage blocks: a container, the stage calls each block");
        }
    }

    @Override protected String extraRepr() { return "params=" + parameterCount(); }
}
