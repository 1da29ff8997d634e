package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/** Pre-norm transformer block: x + attn(ln1(x)), then + mlp(ln2(x)), mlp = Linear(C,4C) GELU Linear(4C,C).  (B, T, C) -> (B, T, C). */
public final class TransformerBlock extends Module {
    private final LayerNorm ln1, ln2;
    private final CausalSelfAttention attn;
    private final Sequential mlp;

    public TransformerBlock(int width, int heads, double dropout, Init init) {
        this.ln1 = register("ln1", new LayerNorm(width, init));
        this.attn = register("attn", new CausalSelfAttention(width, heads, dropout, init));
        this.ln2 = register("ln2", new LayerNorm(width, init));
        this.mlp = register("mlp", new Sequential(new Linear(width, 4 * width, true, init), new GELU(true),
                new Linear(4 * width, width, true, init), new Dropout(dropout, init)));
    }

    CausalSelfAttention attn() { return attn; }

    Linear mlpOut() { return (Linear) mlp.get(2); }

    @Override public Tensor forward(Tensor x) {
        x = x.add(attn.forward(ln1.forward(x)));
        return x.add(mlp.forward(ln2.forward(x)));
    }
}
