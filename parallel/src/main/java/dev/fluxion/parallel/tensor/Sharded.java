package dev.fluxion.parallel.tensor;

import java.util.Map;

/**
 * A tensor-parallel module whose parameters are pieces of full parameters: {@link #shards()} names, by the
 * parameter's local name ("weight"), how its full tensor was cut. Parameters it does not name are replicated
 * (every rank holds the whole tensor). {@link TensorParallel#fullStateDict} and
 * {@link TensorParallel#loadFullStateDict} read it to save and load single-process checkpoints.
 */
public interface Sharded {
    /** Local parameter name -> how it is cut; replicated parameters are absent. */
    Map<String, Shard> shards();
}
