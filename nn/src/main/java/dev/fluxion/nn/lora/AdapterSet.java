package dev.fluxion.nn.lora;

import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/** The bookkeeping every {@link LoraLayer} shares: configs by adapter, the active ones, per-row names, merged or not. */
final class AdapterSet {
    private final String layer;
    private final Map<String, LoraConfig> configs = new LinkedHashMap<>();
    private List<String> active = List.of();
    private String[] rows;
    private boolean merged;

    AdapterSet(String layer) { this.layer = layer; }

    /** Registers a new adapter name; the first one becomes active, as PEFT's "default". */
    void add(String name, LoraConfig config) {
        if (name == null || name.isEmpty() || name.contains(".") || name.equals(LoraLayer.BASE))
            throw new IllegalArgumentException(layer + ".addAdapter: adapter name '" + name + "' must be non-empty, without '.', and not " + LoraLayer.BASE);
        if (configs.containsKey(name)) throw new IllegalArgumentException(layer + ".addAdapter: adapter '" + name + "' exists already; adapters are " + configs.keySet());
        if (merged) throw new IllegalStateException(layer + ".addAdapter: unmerge before adding adapter '" + name + "'");
        configs.put(name, config);
        if (active.isEmpty()) active = List.of(name);
    }

    LoraConfig config(String name) {
        LoraConfig c = configs.get(name);
        if (c == null) throw new IllegalArgumentException(layer + ": no adapter '" + name + "'; adapters are " + configs.keySet());
        return c;
    }

    double scaling(String name) { return config(name).scaling(); }

    java.util.Set<String> names() { return Collections.unmodifiableSet(configs.keySet()); }

    void setActive(String... names) {
        for (String n : names) config(n);
        if (merged) throw new IllegalStateException(layer + ".setActiveAdapters: unmerge first (the merged weight holds " + active + ")");
        active = List.of(names);
    }

    List<String> active() { return active; }

    void setRows(String[] r) {
        if (r != null) for (String n : r) if (!n.equals(LoraLayer.BASE)) config(n);
        rows = r == null ? null : r.clone();
    }

    boolean merged() { return merged; }

    void setMerged(boolean m) {
        if (m == merged) throw new IllegalStateException(layer + (m ? ".merge: already merged" : ".unmerge: not merged"));
        merged = m;
    }

    /**
     * y plus each row's own adapter update (PEFT's mixed-batch forward): the rows naming one adapter are
     * gathered, passed through it, and added back at their places, so an adapter's gradient comes only from
     * its rows and an adapter no row names gets none.  x (B, ...), y (B, ...).
     */
    Tensor perRow(Tensor x, Tensor y, BiFunction<String, Tensor, Tensor> delta) {
        if (merged) throw new IllegalStateException(layer + ": per-row adapters need unmerged weights; call unmerge() first");
        if (x.dim() == 0 || x.size(0) != rows.length)
            throw new IllegalArgumentException(layer + ": per-row adapters name " + rows.length + " rows, but the input has shape " + Arrays.toString(x.shape())
                    + " (rows along dim 0)");
        Map<String, List<Long>> byName = new LinkedHashMap<>();
        for (int i = 0; i < rows.length; i++) if (!rows[i].equals(LoraLayer.BASE)) byName.computeIfAbsent(rows[i], k -> new ArrayList<>()).add((long) i);
        for (var e : byName.entrySet()) {
            long[] idx = e.getValue().stream().mapToLong(Long::longValue).toArray();
            Tensor index = Tensor.of(idx, idx.length).to(x.device());
            y = y.indexAdd(0, index, delta.apply(e.getKey(), x.indexSelect(0, index)));
        }
        return y;
    }

    /** y plus the active adapters' updates, or the per-row updates inside {@link Lora#perRow}; y alone when merged. */
    Tensor forward(Tensor x, Tensor y, BiFunction<String, Tensor, Tensor> delta) {
        if (rows != null) return perRow(x, y, delta);
        if (merged) return y;
        for (String n : active) y = y.add(delta.apply(n, x));
        return y;
    }
}
