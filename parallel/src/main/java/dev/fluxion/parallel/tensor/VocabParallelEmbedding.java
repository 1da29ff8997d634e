package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Embedding;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.util.Map;

/**
 * An embedding table whose rows (the vocabulary) are split across the tensor-parallel group (Megatron's
 * VocabParallelEmbedding): rank r holds rows [r V/n, (r+1) V/n). Each rank looks up the ids in its range,
 * writes zeros for the others, and {@link Mappings#reduceFromRegion} sums the ranks' rows (all-reduce
 * forward, identity backward).  ids: (...) int64 -> (..., dim). With sequence parallelism the sum is a
 * {@link Mappings#reduceScatterToSequence} instead: ids (B, T) -> (B, T/n, dim), this rank's positions.
 */
public final class VocabParallelEmbedding extends Module implements Sharded {
    private static final Shard ROWS = Shard.along(0);

    private final Parameter weight;     // (V/n, dim)
    private final ProcessGroup group;
    private final long start, end;      // this rank's vocabulary range [start, end)
    private final boolean sequenceParallel;

    /** Slices fullWeight (V, dim) by rows; V must be divisible by the group size. */
    public VocabParallelEmbedding(Tensor fullWeight, ProcessGroup group, boolean sequenceParallel) {
        this.group = group;
        this.sequenceParallel = sequenceParallel;
        this.weight = register("weight", ROWS.slice(fullWeight.detach(), group.rank(), group.size()));
        this.start = (long) group.rank() * weight.size(0);
        this.end = start + weight.size(0);
    }

    /** The vocab-parallel version of an Embedding, sliced from its weight. */
    public static VocabParallelEmbedding of(Embedding e, ProcessGroup group, boolean sequenceParallel) {
        return new VocabParallelEmbedding(e.weight(), group, sequenceParallel);
    }

    public Parameter weight() { return weight; }

    /** First id this rank holds. */
    public long vocabStart() { return start; }

    @Override public Map<String, Shard> shards() { return Map.of("weight", ROWS); }

    @Override protected Tensor compute(Tensor ids) {
        if (ids.dtype() != DType.INT64) throw new IllegalArgumentException("VocabParallelEmbedding: ids must be int64, got " + ids.dtype());
        Tensor mine = ids.ge(start).to(DType.INT64).add(ids.lt(end).to(DType.INT64)).eq(2);   // (...) bool: ids this rank holds
        Tensor local = Tensor.where(mine, ids.sub(start), Tensor.zerosLike(ids));   // out-of-range ids read row 0, then zeroed
        Tensor rows = Tensor.embedding(weight, local);                               // (..., dim)
        rows = rows.mul(mine.unsqueeze(-1).to(rows.dtype()));
        if (!sequenceParallel) return Mappings.reduceFromRegion(rows, group);
        if (ids.dim() != 2) throw new IllegalArgumentException("VocabParallelEmbedding: with sequence parallelism ids must be (B, T), got rank " + ids.dim());
        return Mappings.reduceScatterToSequence(rows, group);
    }

    @Override protected String extraRepr() { return "vocab [" + start + ", " + end + "), dim=" + weight.size(1) + (sequenceParallel ? ", sequenceParallel" : ""); }
}
