package dev.fluxion.parallel.fsdp;

import dev.fluxion.nn.Module;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/** Makes every rank start from rank 0's parameters and buffers (as DDP and FSDP's sync_module_states). */
final class Broadcast {
    private Broadcast() {}

    static void fromRankZero(ProcessGroup world, Module m) {
        if (world.size() == 1) return;
        List<Tensor> all = new ArrayList<>(m.parameters());
        all.addAll(m.namedBuffers().values());
        List<dev.fluxion.parallel.Work> works = new ArrayList<>();
        java.util.Set<Tensor> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Tensor t : all) {
            if (!seen.add(t)) continue;
            if (!t.isContiguous())
                throw new IllegalArgumentException("fullyShard: parameter or buffer " + java.util.Arrays.toString(t.shape()) + " is not contiguous; "
                        + "make it contiguous before wrapping");
            works.add(world.broadcast(t.detach(), 0));
        }
        for (var w : works) w.waitFor();
    }
}
