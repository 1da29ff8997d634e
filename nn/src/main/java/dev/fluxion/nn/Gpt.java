package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * A GPT-2 style decoder: token + position embeddings, pre-norm transformer blocks, a final LayerNorm and
 * a linear head.  ids: (B, T) int64, T <= context -> logits (B, T, vocab).
 * Weights are initialised as GPT-2: N(0, 0.02), biases 0, residual projections N(0, 0.02/sqrt(2 layers)).
 */
public final class Gpt extends Module {
    /** The model's size. {@code new Gpt.Config(256, 128, 4, 4, 256, 0.0)} is the small benchmark model. */
    public record Config(int vocab, int context, int layers, int heads, int width, double dropout) {
        public static final Config SMALL = new Config(256, 128, 4, 4, 256, 0.0);

        public Config {
            if (vocab <= 0 || context <= 0 || layers <= 0 || heads <= 0 || width <= 0)
                throw new IllegalArgumentException("Gpt.Config: sizes must be positive: " + vocabLine(vocab, context, layers, heads, width));
            if (width % heads != 0) throw new IllegalArgumentException("Gpt.Config: width " + width + " must be divisible by heads " + heads);
            if (dropout < 0 || dropout >= 1) throw new IllegalArgumentException("Gpt.Config: dropout must be in [0, 1), got " + dropout);
        }

        private static String vocabLine(int v, int c, int l, int h, int w) {
            return "vocab=" + v + ", context=" + c + ", layers=" + l + ", heads=" + h + ", width=" + w;
        }

        public Config withLayers(int n) { return new Config(vocab, context, n, heads, width, dropout); }

        public Config withWidth(int w) { return new Config(vocab, context, layers, heads, w, dropout); }

        public Config withHeads(int h) { return new Config(vocab, context, layers, h, width, dropout); }

        public Config withContext(int c) { return new Config(vocab, c, layers, heads, width, dropout); }

        public Config withVocab(int v) { return new Config(v, context, layers, heads, width, dropout); }

        public Config withDropout(double d) { return new Config(vocab, context, layers, heads, width, d); }
    }

    private final Config config;
    private final Embedding tokens, positions;
    private final Dropout dropout;
    private final ModuleList<TransformerBlock> blocks;
    private final LayerNorm lnF;
    private final Linear head;

    public Gpt(Config config, Init init) {
        this.config = config;
        this.tokens = register("tokens", new Embedding(config.vocab(), config.width(), init));
        this.positions = register("positions", new Embedding(config.context(), config.width(), init));
        this.dropout = register("dropout", new Dropout(config.dropout(), init));
        List<TransformerBlock> list = new ArrayList<>();
        for (int i = 0; i < config.layers(); i++) list.add(new TransformerBlock(config.width(), config.heads(), config.dropout(), init));
        this.blocks = register("blocks", new ModuleList<>(list));
        this.lnF = register("lnF", new LayerNorm(config.width(), init));
        this.head = register("head", new Linear(config.width(), config.vocab(), false, init));
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

    public Config config() { return config; }

    @Override public Tensor forward(Tensor ids) {
        if (ids.dim() != 2) throw new IllegalArgumentException("Gpt.forward: ids must be (B, T), got rank " + ids.dim());
        int t = ids.size(1);
        if (t > config.context())
            throw new IllegalArgumentException("Gpt.forward: sequence length " + t + " exceeds the context " + config.context());
        Tensor pos = Tensor.arange(t).to(ids.device());
        Tensor x = dropout.forward(tokens.forward(ids).add(positions.forward(pos)));   // (B, T, C)
        for (TransformerBlock block : blocks) x = block.forward(x);
        return head.forward(lnF.forward(x));                                           // (B, T, vocab)
    }

    @Override protected String extraRepr() { return "params=" + parameterCount(); }
}
