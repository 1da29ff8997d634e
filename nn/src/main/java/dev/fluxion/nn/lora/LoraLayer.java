package dev.fluxion.nn.lora;

import dev.fluxion.nn.Init;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A layer with LoRA adapters around a frozen base: {@link LoraLinear} (around a Linear or a 4-bit
 * {@link Nf4Linear}) or {@link LoraEmbedding}. It holds any number of named adapters; the active ones add
 * their update to the base output, or, inside {@link Lora#perRow}, each batch row uses the adapter it names.
 * Made by {@link Lora#wrap}; reached with {@link Lora#layers}.
 */
public sealed interface LoraLayer permits LoraLinear, LoraEmbedding {
    /** The name PEFT uses for the first adapter. */
    String DEFAULT = "default";

    /** The row name that uses no adapter in {@link Lora#perRow} (PEFT's "__base__"). */
    String BASE = "__base__";

    /** The wrapped base layer (frozen). */
    Module base();

    /** Adds an adapter initialised as PEFT does (it does not become active: see {@link #setActiveAdapters}). */
    void addAdapter(String name, LoraConfig config, Init init);

    /** Every adapter's name, in the order added. */
    Set<String> adapterNames();

    /** The config an adapter was added with. */
    LoraConfig config(String adapter);

    /** The adapters whose updates forward adds, in order (PEFT's set_adapter). */
    void setActiveAdapters(String... names);

    List<String> activeAdapters();

    /**
     * One adapter's parameters under PEFT's file names relative to this layer: "lora_A.weight",
     * "lora_B.weight" (Linear) or "lora_embedding_A", "lora_embedding_B" (Embedding).
     */
    Map<String, Parameter> adapterParameters(String adapter);

    /** Adds the active adapters' updates into the base weight (keeping the weight as it was, for {@link #unmerge}). */
    void merge();

    /** Restores the base weight exactly as it was before {@link #merge}. */
    void unmerge();

    boolean isMerged();

    /** Drops what {@link #merge} kept for unmerge; the merged weight stays (merge_and_unload). */
    void forgetUnmerged();

    /** Per-row adapter names for the next forwards, or null for the active adapters; set by {@link Lora#perRow}. */
    void setRowAdapters(String[] rows);
}
