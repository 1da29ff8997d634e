package dev.fluxion.parallel.fsdp;

import dev.fluxion.nn.Module;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Makes every rank of the FSDP groups start from the same parameters and buffers (as DDP and FSDP's
 * sync_module_states): within the shard group from its rank 0, then across the replicate group from its
 * rank 0. Only over these groups, not the whole world: on a ("dp", "tp") mesh the ranks of different tp
 * coordinates hold different tensor-parallel pieces, which must stay as they are.
 */
final class Broadcast {
    private Broadcast() {}

    static void fromFirstReplica(Groups groups, Module m) {
        if (groups.shard() != null) fromRankZero(groups.shard(), m);
        if (groups.replicate() != null) fromRankZero(groups.replicate(), m);
    }

    static void fromRankZero(ProcessGroup group, Module m) {
        if (group.size() == 1) return;
        List<Tensor> all = new ArrayList<>(m.parameters());
        all.addAll(m.namedBuffers().values());
        List<dev.fluxion.parallel.Work> works = new ArrayList<>();
        java.util.Set<Tensor> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Tensor t : all) {
            if (!seen.add(t)) continue;
            if (!t.isContiguous())
                throw new IllegalArgumentException("fullyShard: parameter or buffer " + java.util.Arrays.toString(t.shape()) + " is not contiguous; "
                        + "make it contiguous before wrapping");
            works.add(group.broadcast(t.detach(), 0));
        }
        for (var w : works) w.waitFor();
    }
}
