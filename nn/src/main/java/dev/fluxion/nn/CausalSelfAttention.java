package dev.fluxion.nn;

import dev.fluxion.tensor.AttentionOp;
import dev.fluxion.tensor.Tensor;

import java.util.List;

/**
 * Multi-head causal self-attention (GPT-2).  forward(x) or forward(x, mask): x (B, T, C) -> (B, T, C).
 * One (C, 3C) projection makes q, k and v; each of H heads attends over positions &lt;= t with width
 * D = C / H; a (C, C) projection mixes them. mask (optional): bool, broadcastable to (B, H, T, T), true
 * where query t may attend key s, on top of causality; a (B, T) padding mask is passed as (B, 1, 1, T).
 */
public final class CausalSelfAttention extends Module {
    private final Child<Module> qkv;       // C -> 3C
    private final Child<Module> proj;      // C -> C
    private final Child<Module> residDropout;
    private final int heads;
    private final double dropout;
    private final Init init;

    /** Attention over width channels split into heads (width divisible by heads), with dropout on the attention weights in training. */
    public CausalSelfAttention(int width, int heads, double dropout, Init init) {
        if (heads <= 0 || width % heads != 0)
            throw new IllegalArgumentException("CausalSelfAttention: width " + width + " must be divisible by heads " + heads);
        this.heads = heads;
        this.dropout = dropout;
        this.init = init;
        this.qkv = child("qkv", new Linear(width, 3 * width, true, init));
        this.proj = child("proj", new Linear(width, width, true, init));
        // in the tree as in GPT-2, but the weights' dropout runs inside Functional.causalAttention: register()
        // makes setSubmodule refuse a replacement that would never be called
        register("attnDropout", new Dropout(dropout, init));
        this.residDropout = child("residDropout", new Dropout(dropout, init));
    }

    /** The output projection now at "proj" (a Linear unless replaced). */
    public Module proj() { return proj.get(); }

    @Override protected Tensor compute(Tensor... inputs) {
        checkInputs(inputs, 1, 2);
        Tensor x = inputs[0], mask = inputs.length > 1 ? inputs[1] : null;
        int b = x.size(0), t = x.size(1), c = x.size(2), d = c / heads;
        List<Tensor> parts = qkv.forward(x).split(c, 2);                    // 3 x (B, T, C)
        Tensor q = parts.get(0).reshape(b, t, heads, d).transpose(1, 2);    // (B, H, T, D)
        Tensor k = parts.get(1).reshape(b, t, heads, d).transpose(1, 2);
        Tensor v = parts.get(2).reshape(b, t, heads, d).transpose(1, 2);
        boolean drop = isTraining() && dropout > 0;
        Tensor y = Functional.causalAttention(q, k, v, mask, drop ? dropout : 0, drop ? init.generator() : null);
        y = y.transpose(1, 2).reshape(b, t, c);                            // (B, T, C)
        return residDropout.forward(proj.forward(y));
    }

    /**
     * Attention of t new positions given the keys and values of the earlier ones in {@code cache} (layer
     * {@code layer}), for generation: x (B, t, C) at positions cache.length().. -> (B, t, C); this layer's new
     * keys and values are written into the cache. No dropout (generation runs in eval mode).
     */
    public Tensor forwardCached(Tensor x, KvCache cache, int layer) {
        int b = x.size(0), t = x.size(1), c = x.size(2), d = c / heads, past = cache.length();
        List<Tensor> parts = qkv.forward(x).split(c, 2);                    // 3 x (B, t, C)
        Tensor q = parts.get(0).reshape(b, t, heads, d).transpose(1, 2);    // (B, H, t, D)
        Tensor[] kv = cache.append(layer, parts.get(1).reshape(b, t, heads, d).transpose(1, 2), parts.get(2).reshape(b, t, heads, d).transpose(1, 2));
        double scale = 1 / Math.sqrt(d);
        Tensor y;                                                           // (B, H, t, D) over keys (B, H, past + t, D)
        if (past == 0) y = new AttentionOp(scale, true, false, false).apply(q, kv[0], kv[1]);
        else if (t == 1) y = new AttentionOp(scale, false, false, false).apply(q, kv[0], kv[1]);   // the newest position sees every key
        else {
            // query i (position past + i) sees keys 0..past + i
            Tensor mask = Tensor.arange(past + t).reshape(1, past + t).le(Tensor.arange(t).add(past).reshape(t, 1)).to(x.device());
            y = new AttentionOp(scale, false, true, false).apply(q, kv[0], kv[1], mask);
        }
        return proj.forward(y.transpose(1, 2).reshape(b, t, c));
    }

    @Override protected String extraRepr() { return "heads=" + heads; }
}
