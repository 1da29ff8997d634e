package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

import java.util.List;

/**
 * Multi-head causal self-attention (GPT-2).  x: (B, T, C) -> (B, T, C).  One (C, 3C) projection makes
 * q, k and v; each of H heads attends over positions <= t with width D = C / H; a (C, C) projection mixes them.
 */
public final class CausalSelfAttention extends Module {
    private final Linear qkv;       // C -> 3C
    private final Linear proj;      // C -> C
    private final Dropout attnDropout, residDropout;
    private final int heads;
    private final double dropout;
    private final Init init;

    public CausalSelfAttention(int width, int heads, double dropout, Init init) {
        if (heads <= 0 || width % heads != 0)
            throw new IllegalArgumentException("CausalSelfAttention: width " + width + " must be divisible by heads " + heads);
        this.heads = heads;
        this.dropout = dropout;
        this.init = init;
        this.qkv = register("qkv", new Linear(width, 3 * width, true, init));
        this.proj = register("proj", new Linear(width, width, true, init));
        this.attnDropout = register("attnDropout", new Dropout(dropout, init));
        this.residDropout = register("residDropout", new Dropout(dropout, init));
    }

    public Linear proj() { return proj; }

    @Override public Tensor forward(Tensor x) {
        int b = x.size(0), t = x.size(1), c = x.size(2), d = c / heads;
        List<Tensor> parts = qkv.forward(x).split(c, 2);                    // 3 x (B, T, C)
        Tensor q = parts.get(0).reshape(b, t, heads, d).transpose(1, 2);    // (B, H, T, D)
        Tensor k = parts.get(1).reshape(b, t, heads, d).transpose(1, 2);
        Tensor v = parts.get(2).reshape(b, t, heads, d).transpose(1, 2);
        boolean drop = isTraining() && dropout > 0;
        Tensor y = Functional.causalAttention(q, k, v, drop ? dropout : 0, drop ? init.generator() : null);
        y = y.transpose(1, 2).reshape(b, t, c);                            // (B, T, C)
        return residDropout.forward(proj.forward(y));
    }

    @Override protected String extraRepr() { return "heads=" + heads; }
}
