package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Functional;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.Tensor;

import java.util.Map;

/**
 * Y = X A^T + b with A's input columns split across the tensor-parallel group (Megatron's RowParallelLinear):
 * rank r holds columns [r in/n, (r+1) in/n) of A and multiplies its block X_r of the input (already split,
 * as a column-parallel layer leaves it).  x: (B, T, in/n) -> (B, T, out), or (B, T/n, out) with sequence
 * parallelism. The partial products are summed by {@link Mappings#reduceFromRegion} (all-reduce forward,
 * identity backward) or {@link Mappings#reduceScatterToSequence}; the bias is added once, after the
 * reduction, so it is not summed n times. The bias is replicated; under sequence parallelism each rank adds
 * it to its own rows only, so it enters through {@link Mappings#copyToRegion} and its gradient is summed.
 */
public final class RowParallelLinear extends Module implements Sharded {
    private static final Shard COLUMNS = Shard.along(1);

    private final Parameter weight;     // (out, in/n)
    private final Parameter bias;       // (out), replicated, or null
    private final ProcessGroup group;
    private final boolean inputIsParallel, sequenceParallel;

    /**
     * Slices fullWeight (out, in) by columns; fullBias (out) or null is shared. inputIsParallel false splits a
     * full input first ({@link Mappings#scatterToRegion}).
     */
    public RowParallelLinear(Tensor fullWeight, Tensor fullBias, ProcessGroup group, boolean inputIsParallel, boolean sequenceParallel) {
        this.group = group;
        this.inputIsParallel = inputIsParallel;
        this.sequenceParallel = sequenceParallel;
        this.weight = register("weight", COLUMNS.slice(fullWeight.detach(), group.rank(), group.size()));
        this.bias = fullBias == null ? null : register("bias", fullBias.detach().copy());
    }

    /** The row-parallel version of a Linear whose input arrives split (inputIsParallel). */
    public static RowParallelLinear of(Linear linear, ProcessGroup group, boolean sequenceParallel) {
        return new RowParallelLinear(linear.weight(), linear.bias(), group, true, sequenceParallel);
    }

    public Parameter weight() { return weight; }

    public Parameter bias() { return bias; }

    @Override public Map<String, Shard> shards() { return Map.of("weight", COLUMNS); }

    @Override protected Tensor compute(Tensor x) {
        if (!inputIsParallel) x = Mappings.scatterToRegion(x, group);
        Tensor partial = Functional.linear(x, weight, null);                                   // (B, T, out), this rank's share
        Tensor y = sequenceParallel ? Mappings.reduceScatterToSequence(partial, group) : Mappings.reduceFromRegion(partial, group);
        if (bias == null) return y;
        return y.add(sequenceParallel ? Mappings.copyToRegion(bias, group) : bias);
    }

    @Override protected String extraRepr() {
        return "in/" + group.size() + "=" + weight.size(1) + ", out=" + weight.size(0) + ", bias=" + (bias != null)
                + (sequenceParallel ? ", sequenceParallel" : "");
    }
}
