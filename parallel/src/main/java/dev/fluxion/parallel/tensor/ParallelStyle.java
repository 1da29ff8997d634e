package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Embedding;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Module;

/**
 * How one module becomes its tensor-parallel version (as PyTorch's ColwiseParallel, RowwiseParallel,
 * SequenceParallel styles): given the single-process module (whose weights it slices) and the context, it
 * returns the module to put at the same path. A {@link ParallelizePlan} maps module paths to styles.
 */
@FunctionalInterface
public interface ParallelStyle {
    /** The parallel version of original (which it may reuse or slice; original is then dropped). */
    Module apply(Module original, TpContext ctx);

    /** A Linear becomes a {@link ColumnParallelLinear} whose output stays split (out/n features per rank). */
    static ParallelStyle colwise() { return (m, c) -> ColumnParallelLinear.of(linear(m), c.group(), false, c.sequenceParallel()); }

    /** A Linear becomes a {@link ColumnParallelLinear} that all-gathers its output (gather_output=True). */
    static ParallelStyle colwiseGathered() { return (m, c) -> ColumnParallelLinear.of(linear(m), c.group(), true, c.sequenceParallel()); }

    /** A Linear becomes a {@link RowParallelLinear} whose input arrives split; its bias is added after the reduction. */
    static ParallelStyle rowwise() { return (m, c) -> RowParallelLinear.of(linear(m), c.group(), c.sequenceParallel()); }

    /** An Embedding becomes a {@link VocabParallelEmbedding} (reduce-scattering over the sequence under sequence parallelism). */
    static ParallelStyle vocabEmbedding() {
        return (m, c) -> {
            if (!(m instanceof Embedding e)) throw new IllegalArgumentException("vocabEmbedding style: expects an Embedding, got " + m.getClass().getSimpleName());
            return VocabParallelEmbedding.of(e, c.group(), c.sequenceParallel());
        };
    }

    /**
     * With sequence parallelism, the module stays but a forward hook keeps only this rank's block of its output
     * along dim ({@link Mappings#scatterAlong}; backward all-gathers, so its replicated parameters get their
     * whole gradient): the position table's rows (dim 0), to match a sequence-split token embedding. The
     * module keeps its path and parameter names (as PyTorch's PrepareModuleOutput).
     */
    static ParallelStyle sequenceSplitOutput(int dim) {
        return (m, c) -> {
            if (c.sequenceParallel()) m.registerForwardHook((mod, in, out) -> Mappings.scatterAlong(out, dim, c.group()));
            return m;
        };
    }

    /** A CausalSelfAttention of heads heads and dropout p becomes a {@link ParallelSelfAttention}. */
    static ParallelStyle attention(int heads, double p) {
        return (m, c) -> new ParallelSelfAttention(m, heads, p, c.generator(), c.group(), c.sequenceParallel());
    }

    /** With sequence parallelism a LayerNorm (eps) becomes a {@link SequenceParallelLayerNorm}; otherwise it stays. */
    static ParallelStyle sequenceNorm(double eps) {
        return (m, c) -> c.sequenceParallel() ? new SequenceParallelLayerNorm(m, eps, c.group()) : m;
    }

    /** With sequence parallelism a Dropout of probability p becomes a {@link ShardedDropout} over the sequence; otherwise it stays. */
    static ParallelStyle sequenceDropout(double p) {
        return (m, c) -> c.sequenceParallel() ? new ShardedDropout(p, c.generator(), 1, c.group()) : m;
    }

    private static Linear linear(Module m) {
        if (!(m instanceof Linear l)) throw new IllegalArgumentException("linear style: expects a Linear, got " + m.getClass().getSimpleName());
        return l;
    }
}
