package dev.fluxion.parallel.tensor;

import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.Generator;

/**
 * What a {@link ParallelStyle} needs to build a module's parallel version: the tensor-parallel group (a
 * {@link dev.fluxion.parallel.DeviceMesh}'s "tp" group), whether sequence parallelism is on, and the
 * generator the model's dropout layers draw from (its {@code Init}'s), so that the parallel model draws the
 * same random numbers in the same order as the single-process one.
 */
public record TpContext(ProcessGroup group, boolean sequenceParallel, Generator generator) {
    public TpContext {
        if (group == null) throw new IllegalArgumentException("TpContext: group is null");
        if (generator == null) throw new IllegalArgumentException("TpContext: generator is null (pass the model's Init generator)");
    }
}
