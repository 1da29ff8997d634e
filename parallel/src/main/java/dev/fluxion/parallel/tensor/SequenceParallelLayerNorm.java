package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Functional;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.Tensor;

import java.util.Map;

/**
 * LayerNorm over this rank's block of the sequence (sequence parallelism).  x: (B, T/n, C) -> (B, T/n, C).
 * The weight and bias are replicated, but each rank normalises different rows, so each computes only part
 * of their gradient: they enter through {@link Mappings#copyToRegion}, whose backward all-reduces that part
 * (Megatron all-reduces the gradients of parameters marked sequence_parallel for the same reason).
 */
public final class SequenceParallelLayerNorm extends Module {
    private final Parameter weight;   // (C), replicated
    private final Parameter bias;     // (C), replicated
    private final double eps;
    private final ProcessGroup group;

    /** Takes over a LayerNorm's parameters (the same Parameter objects); eps as the LayerNorm's (Gpt's: 1e-5). */
    public SequenceParallelLayerNorm(Module layerNorm, double eps, ProcessGroup group) {
        Map<String, Parameter> p = layerNorm.namedParameters();
        if (!p.containsKey("weight") || !p.containsKey("bias") || p.size() != 2)
            throw new IllegalArgumentException("SequenceParallelLayerNorm: expects a LayerNorm with weight and bias, got parameters " + p.keySet());
        this.weight = register("weight", p.get("weight"));
        this.bias = register("bias", p.get("bias"));
        this.eps = eps;
        this.group = group;
    }

    @Override protected Tensor compute(Tensor x) {
        return Functional.layerNorm(x, Mappings.copyToRegion(weight, group), Mappings.copyToRegion(bias, group), eps);
    }

    @Override protected String extraRepr() { return weight.size(0) + ", eps=" + eps + ", sequenceParallel"; }
}
