package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/**
 * Pre-norm transformer block: x + attn(ln1(x), mask), then + mlp(ln2(x)), mlp = Linear(C,4C) GELU Linear(4C,C).
 * forward(x) or forward(x, mask): x (B, T, C) -> (B, T, C); mask as {@link CausalSelfAttention}.
 */
public final class TransformerBlock extends Module {
    private final Child<Module> ln1, ln2;
    private final Child<Module> attn;
    private final Child<Module> mlp;

    /** A pre-norm block of width channels with heads attention heads and dropout on the residual branches in training. */
    public TransformerBlock(int width, int heads, double dropout, Init init) {
        this.ln1 = child("ln1", new LayerNorm(width, init));
        this.attn = child("attn", new CausalSelfAttention(width, heads, dropout, init));
        this.ln2 = child("ln2", new LayerNorm(width, init));
        this.mlp = child("mlp", new Sequential(new Linear(width, 4 * width, true, init), new GELU(true),
                new Linear(4 * width, width, true, init), new Dropout(dropout, init)));
    }

    /** The attention module now at "attn" (a CausalSelfAttention unless replaced). */
    public Module attn() { return attn.get(); }

    /** The MLP now at "mlp". */
    public Module mlp() { return mlp.get(); }

    /**
     * This block on t new positions with the earlier ones' keys and values in {@code cache} (see
     * {@link CausalSelfAttention#forwardCached}): x (B, t, C) -> (B, t, C). Needs a CausalSelfAttention at "attn".
     */
    public Tensor forwardCached(Tensor x, KvCache cache, int layer) {
        if (!(attn.get() instanceof CausalSelfAttention a))
            throw new IllegalStateException("TransformerBlock.forwardCached: a KV cache needs a CausalSelfAttention at attn, got "
                    + attn.get().getClass().getSimpleName() + "; generate without the cache");
        x = x.add(a.forwardCached(ln1.forward(x), cache, layer));
        return x.add(mlp.forward(ln2.forward(x)));
    }

    @Override protected Tensor compute(Tensor... inputs) {
        checkInputs(inputs, 1, 2);
        Tensor x = inputs[0], mask = inputs.length > 1 ? inputs[1] : null;
        x = x.add(mask == null ? attn.forward(ln1.forward(x)) : attn.forward(ln1.forward(x), mask));
        return x.add(mlp.forward(ln2.forward(x)));
    }
}
