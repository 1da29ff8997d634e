package dev.fluxion.parallel.fsdp;

import dev.fluxion.tensor.Tensor;

/** Dim-0 row blocks: cutting a whole tensor into a rank's padded block, and gathering blocks into the whole. */
final class Shards {
    private Shards() {}

    /**
     * Rank r's block of whole (shape p.shape): rows [r * chunkRows, (r + 1) * chunkRows) zero-padded,
     * shaped like p's shard. Works for any tensor laid out like the parameter (optimizer moments too).
     */
    static Tensor slice(ShardedParam p, Tensor whole, int r) {
        Tensor out = Tensor.zeros(whole.dtype(), whole.device(), p.shard.shape());
        long len = p.validElements(r);
        if (len > 0) out.reshape(-1).narrow(0, 0, (int) len).copy_(whole.contiguous().reshape(-1).narrow(0, (int) (r * p.shardNumel()), (int) len));
        return out;
    }

    /** The whole tensor (shape p.shape) from every shard-group rank's block (shaped like p's shard): a collective. */
    static Tensor gather(Groups groups, ShardedParam p, Tensor block) {
        int n = groups.shardSize();
        if (n == 1) return block.contiguous().reshape(p.shape).copy();
        Tensor out = Tensor.zeros(block.dtype(), block.device(), (int) (n * p.shardNumel()));
        groups.shard().allGather(out, block.contiguous().reshape(-1)).waitFor();
        return out.narrow(0, 0, (int) p.full.numel()).reshape(p.shape).copy();
    }
}
