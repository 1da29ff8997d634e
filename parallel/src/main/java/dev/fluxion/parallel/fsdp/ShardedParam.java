package dev.fluxion.parallel.fsdp;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Parameter;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;

/**
 * One parameter under FSDP, sharded along dim 0 (FSDP2's layout): the module keeps {@code full}, the
 * parameter its forward reads, whose memory is released while the unit is sharded; rank r of the shard group
 * owns rows [r * chunkRows, (r + 1) * chunkRows) in {@code shard}, zero-padded past the last row, in the
 * master dtype. The optimizer sees only {@code shard}.
 */
final class ShardedParam {
    final String name;
    final java.util.List<String> aliases = new java.util.ArrayList<>();   // other names of a tied parameter
    final Parameter full;        // (d0, ...) in the compute dtype; the module's own Parameter object
    final int[] shape;           // full shape
    final long rowSize;          // elements per dim-0 row (1 for 0-d and 1-d)
    final int chunkRows;         // ceil(d0 / shards)
    final long offset;           // in the unit's flat local buffer (elements)
    final Parameter shard;       // (chunkRows, ...) in the master dtype; shares full's memory when aliased

    ShardedParam(String name, Parameter full, int shards, int index, long offset, DType computeDtype, boolean aliased) {
        this.name = name;
        this.full = full;
        this.shape = full.shape();
        int rows = shape.length == 0 ? 1 : shape[0];
        this.rowSize = shape.length == 0 ? 1 : full.numel() / Math.max(rows, 1);
        this.chunkRows = (rows + shards - 1) / shards;
        this.offset = offset;
        try (var off = Autodiff.noGrad()) {
            Tensor master = full.detach().contiguous();
            if (aliased) {
                if (!full.isContiguous()) full.setData(Scope.escape(master));
                this.shard = new Parameter(full);
            } else {
                int[] shardShape = shape.length == 0 ? new int[] {chunkRows} : shape.clone();
                shardShape[0] = chunkRows;
                Tensor s = Tensor.zeros(full.dtype(), full.device(), shardShape);
                int first = index * chunkRows, valid = Math.max(0, Math.min(chunkRows, rows - first));
                Tensor flatMaster = master.reshape(rows, (int) rowSize);
                if (valid > 0) s.reshape(chunkRows, (int) rowSize).narrow(0, 0, valid).copy_(flatMaster.narrow(0, first, valid));
                this.shard = new Parameter(s);
                // the module's parameter becomes a fresh contiguous tensor of the compute dtype with its own storage
                full.setData(Scope.escape(master.to(computeDtype).copy()));
            }
        }
        shard.requiresGrad(full.requiresGrad());
    }

    /** Elements this rank holds (padding included). */
    long shardNumel() { return (long) chunkRows * rowSize; }

    /** Rows rank r really holds (0 where only padding falls). */
    long validElements(int r) {
        long start = r * shardNumel();
        return Math.max(0, Math.min(shardNumel(), full.numel() - start));
    }

    boolean trainable() { return full.requiresGrad(); }

    @Override public String toString() { return name + " " + Arrays.toString(shape); }
}
