package dev.fluxion.parallel.fsdp;

import dev.fluxion.parallel.ProcessGroup;

/**
 * The process groups FSDP talks over: shard (parameters are split over its ranks; null when unsharded) and
 * replicate (gradients are averaged across it after the reduce-scatter; null when there is one replica).
 */
record Groups(ProcessGroup world, ProcessGroup shard, ProcessGroup replicate) {
    int shardSize() { return shard == null ? 1 : shard.size(); }

    int shardRank() { return shard == null ? 0 : shard.rank(); }

    int worldRank() { return world.globalRank(world.rank()); }
}
