package dev.fluxion.parallel;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Collectives over many tensors at once: packed per dtype and device into flat tensors of at most 256 MiB. */
final class Coalesced {
    private Coalesced() {}

    private static final long CHUNK = 256L << 20;

    /** Every rank's tensors take root's values. */
    static void broadcast(ProcessGroup pg, List<Tensor> tensors, int root) {
        if (pg.size() == 1) return;
        Map<String, List<Tensor>> groups = new LinkedHashMap<>();
        for (Tensor t : tensors) groups.computeIfAbsent(t.dtype() + "@" + t.device(), k -> new ArrayList<>()).add(t);
        try (var off = Autodiff.noGrad()) {
            for (List<Tensor> g : groups.values()) {
                List<Tensor> batch = new ArrayList<>();
                long bytes = 0;
                for (Tensor t : g) {
                    batch.add(t);
                    bytes += (long) t.numel() * t.dtype().byteSize();
                    if (bytes >= CHUNK) { broadcastFlat(pg, batch, root); batch.clear(); bytes = 0; }
                }
                if (!batch.isEmpty()) broadcastFlat(pg, batch, root);
            }
        }
    }

    private static void broadcastFlat(ProcessGroup pg, List<Tensor> batch, int root) {
        List<Tensor> flat = new ArrayList<>();
        for (Tensor t : batch) flat.add(t.detach().reshape(-1));
        Tensor all = Tensor.cat(flat, 0).contiguous();
        pg.broadcast(all, root).waitFor();
        int off = 0;                                                  // all is 1-D: its size, an int, bounds every offset
        for (Tensor t : batch) {
            t.copy_(all.narrow(0, off, (int) t.numel()).view(t.shape()));
            off += (int) t.numel();
        }
        all.close();
    }
}
