package dev.fluxion.tensor.cpu;

/**
 * The one thread policy of the CPU backend: {@code threads()} workers (the calling thread and a pool of
 * {@code threads() - 1}, see {@link Workers}) for the Java and C kernels and for GEMM too: OpenBLAS runs
 * single-threaded, and {@link Blas#sgemm} splits a large product over these workers, so no second pool competes
 * for the cores. Set it with {@code -Dfluxion.threads=N} or {@link #setThreads(int)}; the default is the number
 * of available processors.
 */
public final class Parallel {
    /**
     * Below this many elements an op runs on the calling thread: handing out pieces costs more than it saves.
     * A 32K grain made the CNN step's 64K-element ReLU, bias and copy ops 2-4x slower on 2 loaded cores, when a
     * parked worker took tens of microseconds to wake.
     */
    static final int GRAIN = 1 << 16;

    /** How long an idle worker spins before it parks. */
    private static final long SPIN_NANOS = Long.getLong("fluxion.spinMicros", 50) * 1000;

    private static volatile Workers pool;
    private static volatile int threads;

    static { setThreads(Integer.getInteger("fluxion.threads", Runtime.getRuntime().availableProcessors())); }

    private Parallel() {}

    public static int threads() { return threads; }

    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("Parallel.setThreads: " + n + " must be >= 1");
        Workers old = pool;
        threads = n;
        pool = new Workers(n - 1, SPIN_NANOS);   // forRange's calling thread is the n-th worker
        if (old != null) old.shutdown();
    }

    interface RangeBody { void run(long lo, long hi); }

    /**
     * Runs body over [0, n) in pieces of at least {@code grain}, in parallel when it pays. The pieces are those
     * of a recursive halving (sizes differ by at most one), whichever thread runs each, so kernels that work per
     * piece give the same bits on every run.
     */
    static void forRange(long n, long grain, RangeBody body) {
        int t = threads;
        if (n <= grain || t == 1 || Workers.onWorker()) {   // nested inside a worker's piece: run inline
            if (n > 0) body.run(0, n);
            return;
        }
        int pieces = (int) Math.min((long) t * 4, (n + grain - 1) / grain);
        long[] bounds = new long[pieces + 1];
        split(bounds, 0, 0, n, pieces);
        pool.run(body, bounds);
    }

    /** Writes the bounds of the recursive split of [lo, hi) into p pieces at bounds[first..first + p]. */
    private static void split(long[] bounds, int first, long lo, long hi, int p) {
        if (p <= 1) { bounds[first] = lo; bounds[first + 1] = hi; return; }
        int left = p / 2;
        long mid = mid(lo, hi, p, left);
        split(bounds, first, lo, mid, left);
        split(bounds, first + left, mid, hi, p - left);
    }

    /** Where [lo, hi) in pieces splits after leftPieces of them: the sizes differ by at most one. */
    private static long mid(long lo, long hi, int pieces, int leftPieces) {
        return lo + (hi - lo) / pieces * leftPieces + (hi - lo) % pieces * leftPieces / pieces;
    }
}
