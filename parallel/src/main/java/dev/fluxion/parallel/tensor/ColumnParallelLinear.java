package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Functional;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Y = X A^T + b with A's output rows split across the tensor-parallel group (Megatron's ColumnParallelLinear):
 * rank r holds rows [r out/n, (r+1) out/n) of A and of b.  x: (B, T, in) -> (B, T, out/n), or (B, T, out)
 * with gatherOutput. The input enters through {@link Mappings#copyToRegion} (identity forward, all-reduce of
 * dX backward), or with sequence parallelism through {@link Mappings#gatherFromSequence} (x is then
 * (B, T/n, in): all-gather forward, reduce-scatter backward).
 *
 * <pre>{@code
 * var fc = ColumnParallelLinear.of(new Linear(256, 1024, true, init), tp, false, false);   // weight (1024/n, 256)
 * }</pre>
 */
public final class ColumnParallelLinear extends Module implements Sharded {
    private final Parameter weight;     // (out/n, in)
    private final Parameter bias;       // (out/n) or null
    private final ProcessGroup group;
    private final boolean gatherOutput, sequenceParallel;
    private final Shard shard;

    /**
     * Slices full weights: fullWeight (out, in), fullBias (out) or null. segments > 1 cuts out into that many
     * equal parts first (q, k, v: 3) and gives each rank its block of every part; gatherOutput then refuses,
     * since gathered blocks would interleave the parts.
     */
    public ColumnParallelLinear(Tensor fullWeight, Tensor fullBias, int segments, ProcessGroup group, boolean gatherOutput, boolean sequenceParallel) {
        if (gatherOutput && segments != 1)
            throw new IllegalArgumentException("ColumnParallelLinear: gatherOutput needs one segment, got " + segments + " (the blocks of each part would interleave)");
        this.group = group;
        this.gatherOutput = gatherOutput;
        this.sequenceParallel = sequenceParallel;
        this.shard = new Shard(0, segments);
        this.weight = register("weight", shard.slice(fullWeight.detach(), group.rank(), group.size()));
        this.bias = fullBias == null ? null : register("bias", shard.slice(fullBias.detach(), group.rank(), group.size()));
    }

    /** The column-parallel version of a Linear, its weights sliced from linear's (one segment). */
    public static ColumnParallelLinear of(Linear linear, ProcessGroup group, boolean gatherOutput, boolean sequenceParallel) {
        return new ColumnParallelLinear(linear.weight(), linear.bias(), 1, group, gatherOutput, sequenceParallel);
    }

    public Parameter weight() { return weight; }

    public Parameter bias() { return bias; }

    @Override public Map<String, Shard> shards() {
        Map<String, Shard> m = new LinkedHashMap<>();
        m.put("weight", shard);
        if (bias != null) m.put("bias", shard);
        return m;
    }

    @Override protected Tensor compute(Tensor x) {
        x = sequenceParallel ? Mappings.gatherFromSequence(x, group) : Mappings.copyToRegion(x, group);   // (B, T, in)
        Tensor y = Functional.linear(x, weight, bias);                                                     // (B, T, out/n)
        return gatherOutput ? Mappings.gatherFromRegion(y, group) : y;
    }

    @Override protected String extraRepr() {
        return "in=" + weight.size(1) + ", out/" + group.size() + "=" + weight.size(0) + ", bias=" + (bias != null)
                + (gatherOutput ? ", gatherOutput" : "") + (sequenceParallel ? ", sequenceParallel" : "");
    }
}
