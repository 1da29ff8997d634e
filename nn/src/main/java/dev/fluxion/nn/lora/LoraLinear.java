package dev.fluxion.nn.lora;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Child;
import dev.fluxion.nn.Dropout;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * LoRA around a frozen Linear (or a 4-bit {@link Nf4Linear}, which makes it QLoRA), as PEFT's
 * {@code lora.Linear}:  y = base(x) + scaling * B A dropout(x).  x (..., in) -> (..., out).
 * A (r, in) starts as PEFT's kaiming_uniform(a=sqrt(5)), which is U(-1/sqrt(in), 1/sqrt(in)); B (out, r)
 * starts at zero, so the wrapped layer computes exactly what the base did until B trains. State-dict names
 * are PEFT's: "base_layer.weight", "lora_A.&lt;adapter&gt;.weight", "lora_B.&lt;adapter&gt;.weight".
 */
public final class LoraLinear extends Module implements LoraLayer {
    private final Child<Module> base;                       // in -> out, frozen
    private final Adapters<Dropout> dropout;
    private final Adapters<Adapters.Weight> loraA, loraB;   // (r, in), (out, r) per adapter
    private final AdapterSet adapters = new AdapterSet("LoraLinear");
    private final int in, out;
    private Tensor unmerged;                                // (out, in): the base weight before merge()

    /** Wraps base (a Linear or an Nf4Linear) with one adapter named name. */
    public LoraLinear(Module base, String name, LoraConfig config, Init init) {
        if (base instanceof Linear l) { in = l.weight().size(1); out = l.weight().size(0); }
        else if (base instanceof Nf4Linear q) { in = q.inFeatures(); out = q.outFeatures(); }
        else throw new IllegalArgumentException("LoraLinear: the base must be a Linear or an Nf4Linear, got " + base.getClass().getSimpleName());
        this.base = child("base_layer", base);
        this.dropout = register("lora_dropout", new Adapters<>());
        this.loraA = register("lora_A", new Adapters<>());
        this.loraB = register("lora_B", new Adapters<>());
        addAdapter(name, config, init);
    }

    @Override public Module base() { return base.get(); }

    @Override public void addAdapter(String name, LoraConfig config, Init init) {
        adapters.add(name, config);
        dropout.add(name, new Dropout(config.dropout(), init));
        loraA.add(name, new Adapters.Weight(init.kaimingUniform(Math.sqrt(5), config.r(), in)));
        loraB.add(name, new Adapters.Weight(init.zeros(out, config.r())));
    }

    @Override public Set<String> adapterNames() { return adapters.names(); }

    @Override public LoraConfig config(String adapter) { return adapters.config(adapter); }

    @Override public void setActiveAdapters(String... names) { adapters.setActive(names); }

    @Override public List<String> activeAdapters() { return adapters.active(); }

    @Override public void setRowAdapters(String[] rows) { adapters.setRows(rows); }

    @Override public Map<String, Parameter> adapterParameters(String adapter) {
        adapters.config(adapter);
        Map<String, Parameter> m = new LinkedHashMap<>();
        m.put("lora_A.weight", loraA.module(adapter).weight());
        m.put("lora_B.weight", loraB.module(adapter).weight());
        return m;
    }

    /** scaling * B A dropout(x) for one adapter.  x (..., in) -> (..., out). */
    private Tensor delta(String adapter, Tensor x) {
        return loraB.module(adapter).forward(loraA.module(adapter).forward(dropout.module(adapter).forward(x))).mul(adapters.scaling(adapter));
    }

    @Override protected Tensor compute(Tensor x) { return adapters.forward(x, base.forward(x), this::delta); }

    /** scaling * B A, the update an adapter makes to the base weight (PEFT's get_delta_weight).  -> (out, in). */
    public Tensor deltaWeight(String adapter) {
        try (var off = Autodiff.noGrad()) {
            return loraB.module(adapter).weight().matmul(loraA.module(adapter).weight()).mul(adapters.scaling(adapter));
        }
    }

    /**
     * W += scaling B A for each active adapter. The weight before is kept, so {@link #unmerge} restores it
     * bit for bit (subtracting the update again would not: float addition is not invertible).
     */
    @Override public void merge() {
        if (!(base.get() instanceof Linear l))
            throw new UnsupportedOperationException("LoraLinear.merge: the base is 4-bit (" + base.get().getClass().getSimpleName()
                    + "); merging would requantize it and lose the update's precision. Dequantize the base into a Linear first");
        adapters.setMerged(true);
        try (var off = Autodiff.noGrad()) {
            unmerged = l.weight().detach().copy();
            Tensor w = l.weight().detach();
            for (String a : adapters.active()) w = w.add(deltaWeight(a).to(w.dtype()));
            l.weight().copy_(w);
        }
    }

    @Override public void unmerge() {
        adapters.setMerged(false);
        if (unmerged == null) throw new IllegalStateException("LoraLinear.unmerge: the weight before merge was dropped by mergeAndUnload");
        try (var off = Autodiff.noGrad()) {
            ((Linear) base.get()).weight().copy_(unmerged);
        }
        unmerged = null;
    }

    @Override public boolean isMerged() { return adapters.merged(); }

    @Override public void forgetUnmerged() { unmerged = null; }

    @Override protected String extraRepr() { return "in=" + in + ", out=" + out + ", adapters=" + adapters.names() + ", active=" + adapters.active(); }
}
