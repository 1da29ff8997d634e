package dev.fluxion.parallel.tensor;

import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * How a full (single-process) parameter maps to the piece one tensor-parallel rank holds: along dim, the
 * tensor is cut into {@code segments} equal segments and each segment into n equal blocks; rank r holds
 * block r of every segment, concatenated. A plain column- or row-parallel weight has one segment; the
 * fused q/k/v projection has three (rank r holds its heads' rows of q, of k and of v).
 *
 * <pre>{@code
 * Shard s = new Shard(0, 3);                 // qkv weight (3C, C): rank r gets rows of q, k, v for its heads
 * Tensor local = s.slice(full, rank, 2);     // (3C/2, C)
 * }</pre>
 */
public record Shard(int dim, int segments) {
    public Shard {
        if (dim < 0 || segments < 1) throw new IllegalArgumentException("Shard: dim " + dim + " must be >= 0 and segments " + segments + " >= 1");
    }

    /** A shard with one segment along dim. */
    public static Shard along(int dim) { return new Shard(dim, 1); }

    /** Rank's piece of full, for a group of n ranks (a contiguous copy). */
    public Tensor slice(Tensor full, int rank, int n) {
        int size = full.size(dim);
        if (size % (segments * n) != 0)
            throw new IllegalArgumentException("Shard.slice: dim " + dim + " of " + Shape.str(full.shape()) + " has size " + size + ", not divisible into "
                    + segments + " segment(s) x " + n + " ranks");
        int seg = size / segments, block = seg / n;
        List<Tensor> parts = new ArrayList<>();
        for (int s = 0; s < segments; s++) parts.add(full.narrow(dim, s * seg + rank * block, block));
        return (parts.size() == 1 ? parts.get(0) : Tensor.cat(parts, dim)).copy();
    }

    /** The full tensor from every rank's piece, given in rank order: the inverse of {@link #slice}. */
    public Tensor assemble(List<Tensor> pieces) {
        int n = pieces.size(), local = pieces.get(0).size(dim);
        if (local % segments != 0)
            throw new IllegalArgumentException("Shard.assemble: dim " + dim + " of a piece has size " + local + ", not divisible into " + segments + " segments");
        int block = local / segments;
        List<Tensor> parts = new ArrayList<>();
        for (int s = 0; s < segments; s++)
            for (int r = 0; r < n; r++) parts.add(pieces.get(r).narrow(dim, s * block, block));
        return Tensor.cat(parts, dim).contiguous();
    }
}
