package dev.fluxion.parallel.fsdp;

/**
 * How {@link FullyShardedDataParallel} splits parameters, gradients and optimizer state over the ranks, as
 * PyTorch's {@code torch.distributed.fsdp.ShardingStrategy}.
 */
public enum ShardingStrategy {
    /** ZeRO-3: parameters, gradients and optimizer state sharded; a unit's parameters are gathered before its forward, freed after it, gathered again before its backward and freed after it. */
    FULL_SHARD(true, true),
    /** ZeRO-2: as FULL_SHARD, but the parameters gathered for the forward stay until the backward has used them (no second gather). */
    SHARD_GRAD_OP(true, false),
    /** Like DDP: every rank holds whole parameters; gradients are all-reduced. */
    NO_SHARD(false, false),
    /** FULL_SHARD within the "shard" dimension of a 2-D mesh (a node), gradients also all-reduced across its "replicate" dimension. */
    HYBRID_SHARD(true, true);

    private final boolean shards, reshardAfterForward;

    ShardingStrategy(boolean shards, boolean reshardAfterForward) {
        this.shards = shards;
        this.reshardAfterForward = reshardAfterForward;
    }

    /** Whether parameters are split over the ranks of the shard group. */
    public boolean shards() { return shards; }

    /** Whether a unit frees its gathered parameters after its forward (and gathers them again for its backward). */
    public boolean reshardAfterForward() { return reshardAfterForward; }
}
