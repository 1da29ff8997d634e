package dev.fluxion.nn.lora;

import dev.fluxion.nn.Embedding;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * LoRA on any module, as PEFT's {@code get_peft_model}: {@link #wrap} replaces the target Linear and
 * Embedding layers in place (through {@link Module#setSubmodule}) with {@link LoraLinear} /
 * {@link LoraEmbedding} and freezes everything else; the optimizer then gets only the adapters.
 *
 * <pre>{@code
 * Gpt model = ...;                                        // trained weights loaded
 * Lora.wrap(model, LoraConfig.of(8, 16, "qkv", "proj"), Init.seed(0));
 * System.out.println(Lora.describeTrainable(model));      // trainable params: 24,576 || all params: ...
 * var opt = new AdamW(Lora.trainable(model), AdamW.Config.DEFAULT);
 * ... train ...
 * AdapterFiles.save(model, Path.of("runs/lora"), LoraLayer.DEFAULT, "char-gpt");
 * }</pre>
 *
 * For QLoRA, {@link #quantize} first turns the Linear layers into frozen 4-bit {@link Nf4Linear}s. Wrap
 * before {@code DistributedDataParallel} and before building the optimizer: both take the parameters that
 * require gradients when they are made, so only the adapters are communicated and updated.
 */
public final class Lora {
    private Lora() {}

    /** wrap(model, "default", config, init). */
    public static Map<String, LoraLayer> wrap(Module model, LoraConfig config, Init init) { return wrap(model, LoraLayer.DEFAULT, config, init); }

    /**
     * Adds adapter name to every target (a Linear, Nf4Linear or Embedding whose path config matches; a target
     * already wrapped gets the adapter added), then freezes every parameter that is not an adapter's.
     * Returns the LoRA layers that got the adapter, by path. Build the optimizer afterwards.
     */
    public static Map<String, LoraLayer> wrap(Module model, String name, LoraConfig config, Init init) {
        Map<String, LoraLayer> out = new LinkedHashMap<>();
        Set<Module> insideLora = Collections.newSetFromMap(new IdentityHashMap<>());
        for (LoraLayer l : layers(model).values()) insideLora.add(l.base());
        List<String> candidates = new ArrayList<>();
        for (var e : model.namedModules().entrySet()) {
            String path = e.getKey();
            Module m = e.getValue();
            if (m instanceof LoraLayer l) {
                if (config.matches(path)) { l.addAdapter(name, config, init); out.put(path, l); }
                continue;
            }
            if (insideLora.contains(m) || !(m instanceof Linear || m instanceof Nf4Linear || m instanceof Embedding)) continue;
            candidates.add(path);
            if (!config.matches(path)) continue;
            LoraLayer l = m instanceof Embedding emb ? new LoraEmbedding(emb, name, config, init) : new LoraLinear(m, name, config, init);
            model.setSubmodule(path, (Module) l);
            out.put(path, l);
        }
        if (out.isEmpty())
            throw new IllegalArgumentException("Lora.wrap: target modules " + config.targetsDescription() + " match no Linear or Embedding of "
                    + model.getClass().getSimpleName() + "; its Linear and Embedding layers are " + candidates);
        freezeAllButAdapters(model);
        return out;
    }

    /** requiresGrad(false) on every parameter except the adapters' (PEFT's _mark_only_adapters_as_trainable). */
    public static void freezeAllButAdapters(Module model) {
        Set<Parameter> adapter = Collections.newSetFromMap(new IdentityHashMap<>());
        for (LoraLayer l : layers(model).values())
            for (String a : l.adapterNames()) adapter.addAll(l.adapterParameters(a).values());
        for (Parameter p : model.parameters()) p.requiresGrad(adapter.contains(p));
    }

    /** Every LoRA layer of model, by path. */
    public static Map<String, LoraLayer> layers(Module model) {
        Map<String, LoraLayer> out = new LinkedHashMap<>();
        for (var e : model.namedModules().entrySet()) if (e.getValue() instanceof LoraLayer l) out.put(e.getKey(), l);
        return out;
    }

    /** The parameters that require gradients (the adapters after {@link #wrap}), for the optimizer. */
    public static List<Parameter> trainable(Module model) {
        List<Parameter> out = new ArrayList<>();
        for (Parameter p : model.parameters()) if (p.requiresGrad()) out.add(p);
        return out;
    }

    /** Trainable and total parameter counts; a 4-bit weight counts its elements (as PEFT counts Params4bit). */
    public record Counts(long trainable, long total) {
        public double percent() { return total == 0 ? 0 : 100.0 * trainable / total; }
    }

    public static Counts count(Module model) {
        long trainable = 0, total = 0;
        for (Parameter p : model.parameters()) {
            total += p.numel();
            if (p.requiresGrad()) trainable += p.numel();
        }
        for (Module m : model.namedModules().values()) if (m instanceof Nf4Linear q) total += q.weight().numel();
        return new Counts(trainable, total);
    }

    /** PEFT's print_trainable_parameters line: "trainable params: 1,024 || all params: 9,216 || trainable%: 11.1111". */
    public static String describeTrainable(Module model) {
        Counts c = count(model);
        return String.format(Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f", c.trainable(), c.total(), c.percent());
    }

    public static void printTrainableParameters(Module model) { System.out.println(describeTrainable(model)); }

    /** Makes names the active adapters of every LoRA layer that has them all (PEFT's set_adapter). */
    public static void setActiveAdapters(Module model, String... names) {
        int n = 0;
        for (LoraLayer l : layers(model).values())
            if (l.adapterNames().containsAll(List.of(names))) { l.setActiveAdapters(names); n++; }
        if (n == 0) throw new IllegalArgumentException("Lora.setActiveAdapters: no LoRA layer has adapters " + List.of(names));
    }

    /** Closing it restores the active adapters: forwards inside use one adapter per batch row. */
    public interface RowScope extends AutoCloseable { @Override void close(); }

    /**
     * Until closed, row i of every batch (dim 0 of each LoRA layer's input) goes through adapter rows[i]
     * only ({@link LoraLayer#BASE} for none), as PEFT's {@code adapter_names=} argument: two adapters train
     * in one step on a mixed batch, each getting gradients from its own rows only.
     */
    public static RowScope perRow(Module model, String... rows) {
        Map<String, LoraLayer> all = layers(model);
        for (LoraLayer l : all.values()) l.setRowAdapters(rows);
        return () -> all.values().forEach(l -> l.setRowAdapters(null));
    }

    public static void merge(Module model) { layers(model).values().forEach(LoraLayer::merge); }

    public static void unmerge(Module model) { layers(model).values().forEach(LoraLayer::unmerge); }

    /** Merges the active adapters and puts each base layer back at its path (PEFT's merge_and_unload); returns model. */
    public static Module mergeAndUnload(Module model) {
        for (var e : layers(model).entrySet()) {
            LoraLayer l = e.getValue();
            l.merge();
            l.forgetUnmerged();
            model.setSubmodule(e.getKey(), l.base());
        }
        return model;
    }

    /**
     * Replaces every Linear whose path which accepts with a frozen 4-bit {@link Nf4Linear} (QLoRA's base),
     * quantized with doubleQuant; returns their paths. Do it before {@link #wrap}.
     */
    public static List<String> quantize(Module model, Predicate<String> which, boolean doubleQuant) {
        List<String> done = new ArrayList<>();
        for (var e : model.namedModules().entrySet())
            if (e.getValue() instanceof Linear l && which.test(e.getKey())) {
                model.setSubmodule(e.getKey(), Nf4Linear.from(l, doubleQuant));
                done.add(e.getKey());
            }
        return done;
    }
}
