package dev.fluxion.nn.lora;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Child;
import dev.fluxion.nn.Embedding;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * LoRA around a frozen Embedding, as PEFT's {@code lora.Embedding}:  y = base(ids) + scaling * (A^T[ids]) B^T.
 * ids (...) int64 -> (..., dim). Here A (r, num) starts at zero and B (dim, r) as N(0, 1), the other way
 * round from Linear (PEFT layer.py); the update is zero at the start either way. PEFT applies no dropout to
 * embeddings, and neither does this. State-dict names: "lora_embedding_A.&lt;adapter&gt;", "lora_embedding_B.&lt;adapter&gt;".
 */
public final class LoraEmbedding extends Module implements LoraLayer {
    private final Child<Module> base;
    private final Adapters<Module> loraA, loraB;   // parameters: (r, num), (dim, r) per adapter
    private final AdapterSet adapters = new AdapterSet("LoraEmbedding");
    private final int num, dim;
    private Tensor unmerged;                       // (num, dim)

    public LoraEmbedding(Embedding base, String name, LoraConfig config, Init init) {
        this.num = base.weight().size(0);
        this.dim = base.weight().size(1);
        this.base = child("base_layer", base);
        this.loraA = register("lora_embedding_A", new Adapters<>());
        this.loraB = register("lora_embedding_B", new Adapters<>());
        addAdapter(name, config, init);
    }

    @Override public Module base() { return base.get(); }

    @Override public void addAdapter(String name, LoraConfig config, Init init) {
        adapters.add(name, config);
        loraA.add(name, init.zeros(config.r(), num));
        loraB.add(name, init.normal(0, 1, dim, config.r()));
    }

    @Override public Set<String> adapterNames() { return adapters.names(); }

    @Override public LoraConfig config(String adapter) { return adapters.config(adapter); }

    @Override public void setActiveAdapters(String... names) { adapters.setActive(names); }

    @Override public List<String> activeAdapters() { return adapters.active(); }

    @Override public void setRowAdapters(String[] rows) { adapters.setRows(rows); }

    @Override public Map<String, Parameter> adapterParameters(String adapter) {
        adapters.config(adapter);
        Map<String, Parameter> m = new LinkedHashMap<>();
        m.put("lora_embedding_A", loraA.param(adapter));
        m.put("lora_embedding_B", loraB.param(adapter));
        return m;
    }

    private Tensor delta(String adapter, Tensor ids) {
        Tensor afterA = Tensor.embedding(loraA.param(adapter).t().contiguous(), ids);        // (..., r)
        return afterA.matmul(loraB.param(adapter).t()).mul(adapters.scaling(adapter));      // (..., dim)
    }

    @Override protected Tensor compute(Tensor ids) { return adapters.forward(ids, base.forward(ids), this::delta); }

    /** scaling * (B A)^T.  -> (num, dim). */
    public Tensor deltaWeight(String adapter) {
        try (var off = Autodiff.noGrad()) {
            return loraB.param(adapter).matmul(loraA.param(adapter)).t().mul(adapters.scaling(adapter));
        }
    }

    @Override public void merge() {
        adapters.setMerged(true);
        Parameter w = ((Embedding) base.get()).weight();
        try (var off = Autodiff.noGrad()) {
            unmerged = w.detach().copy();
            Tensor merged = w.detach();
            for (String a : adapters.active()) merged = merged.add(deltaWeight(a).to(w.dtype()));
            w.copy_(merged);
        }
    }

    @Override public void unmerge() {
        adapters.setMerged(false);
        if (unmerged == null) throw new IllegalStateException("LoraEmbedding.unmerge: the weight before merge was dropped by mergeAndUnload");
        try (var off = Autodiff.noGrad()) {
            ((Embedding) base.get()).weight().copy_(unmerged);
        }
        unmerged = null;
    }

    @Override public boolean isMerged() { return adapters.merged(); }

    @Override public void forgetUnmerged() { unmerged = null; }

    @Override protected String extraRepr() { return num + ", " + dim + ", adapters=" + adapters.names() + ", active=" + adapters.active(); }
}
