package dev.fluxion.cuda;

/**
 * Device memory of one GPU, in bytes.
 *
 * @param inUse       held by live tensor storages (what tensors asked for)
 * @param peak        the highest inUse since start or the last {@link CudaBackend#resetPeak()}
 * @param reserved    taken from the device by the stream-ordered pool (inUse plus what it caches for reuse)
 * @param allocations live storages
 * @param deviceFree  free on the device as the driver reports it (all processes)
 * @param deviceTotal the device's memory
 */
public record MemoryStats(long inUse, long peak, long reserved, long allocations, long deviceFree, long deviceTotal) {
    /** "1.5 GiB"-style rendering for messages. */
    public static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
        return String.format(java.util.Locale.ROOT, "%.1f %s", v, units[u]);
    }

    @Override public String toString() {
        return "in use " + human(inUse) + " in " + allocations + " storages (peak " + human(peak) + "), reserved by the pool " + human(reserved)
                + ", device free " + human(deviceFree) + " of " + human(deviceTotal);
    }
}
