package dev.fluxion.nn.lora;

import dev.fluxion.nn.Functional;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * One child per adapter name, as PEFT's {@code nn.ModuleDict} / {@code nn.ParameterDict}: it gives the
 * state-dict names "lora_A.default.weight" (a {@link Weight} per adapter) and "lora_embedding_A.default"
 * (a bare parameter per adapter). A container: the LoRA layer calls the entries, never this.
 */
final class Adapters<M extends Module> extends Module {
    private final Map<String, M> modules = new LinkedHashMap<>();
    private final Map<String, Parameter> params = new LinkedHashMap<>();

    void add(String adapter, M module) { modules.put(adapter, register(adapter, module)); }

    void add(String adapter, Tensor value) { params.put(adapter, register(adapter, value)); }

    M module(String adapter) { return modules.get(adapter); }

    Parameter param(String adapter) { return params.get(adapter); }

    Set<String> names() { return modules.isEmpty() ? params.keySet() : modules.keySet(); }

    @Override protected Tensor compute(Tensor x) {
        throw new IllegalStateException("LoRA adapters: a container; the LoRA layer calls each adapter");
    }

    /** A bias-free linear map with PEFT's parameter name "weight": lora_A (r, in) or lora_B (out, r).  x (..., in) -> (..., out). */
    static final class Weight extends Module {
        private final Parameter weight;

        Weight(Tensor value) { this.weight = register("weight", value); }

        Parameter weight() { return weight; }

        @Override protected Tensor compute(Tensor x) { return Functional.linear(x, weight, null); }

        @Override protected String extraRepr() { return "in=" + weight.size(1) + ", out=" + weight.size(0); }
    }
}
