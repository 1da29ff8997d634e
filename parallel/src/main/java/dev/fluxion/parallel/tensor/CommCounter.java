package dev.fluxion.parallel.tensor;

/**
 * Counts the tensor-parallel collectives the calling thread ran and their payload: for an all-reduce the
 * tensor's bytes S, for an all-gather the gathered output's bytes, for a reduce-scatter the input's bytes
 * (NCCL's convention, see REFERENCE.md 2.3). A ring moves 2(n-1)/n S per rank for an all-reduce and
 * (n-1)/n S for the other two. Per thread, since the tests run ranks as threads.
 */
public final class CommCounter {
    private CommCounter() {}

    /** The collective kinds {@link Mappings} issues. */
    public enum Kind { ALL_REDUCE, ALL_GATHER, REDUCE_SCATTER }

    /** Calls and payload bytes of one kind. */
    public record Count(long calls, long bytes) {}

    private static final ThreadLocal<long[]> COUNTS = ThreadLocal.withInitial(() -> new long[2 * Kind.values().length]);

    static void add(Kind k, long bytes) {
        long[] c = COUNTS.get();
        c[2 * k.ordinal()]++;
        c[2 * k.ordinal() + 1] += bytes;
    }

    /** What this thread ran of kind k since the last {@link #reset()}. */
    public static Count get(Kind k) {
        long[] c = COUNTS.get();
        return new Count(c[2 * k.ordinal()], c[2 * k.ordinal() + 1]);
    }

    /** Bytes each rank sends on a ring of n ranks for what was counted: 2(n-1)/n S per all-reduce, (n-1)/n S otherwise. */
    public static double ringBytesPerRank(int n) {
        if (n == 1) return 0;
        double f = (n - 1) / (double) n;
        return 2 * f * get(Kind.ALL_REDUCE).bytes() + f * (get(Kind.ALL_GATHER).bytes() + get(Kind.REDUCE_SCATTER).bytes());
    }

    /** Zeroes this thread's counts. */
    public static void reset() { java.util.Arrays.fill(COUNTS.get(), 0); }
}
