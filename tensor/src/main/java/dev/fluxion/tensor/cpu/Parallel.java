package dev.fluxion.tensor.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;

/**
 * The one thread policy of the CPU backend: {@code threads()} workers (the calling thread and a fork-join pool
 * of {@code threads() - 1}) for the Java and C kernels and for GEMM too: OpenBLAS runs single-threaded, and
 * {@link Blas#sgemm} splits a large product over these workers, so no second pool competes for the cores. Set it with {@code -Dfluxion.threads=N} or
 * {@link #setThreads(int)}; the default is the number of available processors.
 */
public final class Parallel {
    /**
     * Below this many elements an op runs on the calling thread: forking costs more than it saves. Waking a parked
     * pool worker takes tens of microseconds (far more on a busy machine), about what a 64K-element elementwise op
     * takes on one thread (a 32K grain made the CNN step's 64K-element ReLU, bias and copy ops 2-4x slower on 2 loaded cores).
     */
    static final int GRAIN = 1 << 16;

    private static volatile ForkJoinPool pool;
    private static volatile int threads;

    static { setThreads(Integer.getInteger("fluxion.threads", Runtime.getRuntime().availableProcessors())); }

    private Parallel() {}

    public static int threads() { return threads; }

    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("Parallel.setThreads: " + n + " must be >= 1");
        ForkJoinPool old = pool;
        threads = n;
        pool = new ForkJoinPool(Math.max(1, n - 1));   // forRange's calling thread is the n-th worker
        if (old != null) old.shutdown();
    }

    interface RangeBody { void run(long lo, long hi); }

    /** Runs body over [0, n) in pieces of at least {@code grain}, in parallel when it pays. */
    static void forRange(long n, long grain, RangeBody body) {
        int t = threads;
        if (n <= grain || t == 1 || java.util.concurrent.ForkJoinTask.inForkJoinPool()) {   // nested: run inline
            if (n > 0) body.run(0, n);
            return;
        }
        int pieces = (int) Math.min((long) t * 4, (n + grain - 1) / grain);
        // The calling thread works instead of parking until the pool is done (it is one of the t workers; the
        // pool has t - 1): it walks down the left edge of the split tree, handing each right half to the pool,
        // until its own share is about 1/t of the pieces, and runs those pieces itself. The pieces are those
        // of the recursive split (same bounds, so the same bits from kernels that work per piece).
        int own = Math.max(1, pieces / t);
        java.util.List<ForkJoinTask<Void>> handed = new java.util.ArrayList<>();
        long hi = n;
        Throwable failed = null;
        try {
            int p = pieces;
            while (p > own) {
                int left = p / 2;
                long mid = Split.mid(0, hi, p, left);
                handed.add(pool.submit(new Split(body, mid, hi, p - left)));
                hi = mid;
                p = left;
            }
            runPieces(body, 0, hi, p);
        } catch (Throwable e) {
            failed = e;
        }
        for (ForkJoinTask<Void> f : handed) {                  // wait for every handed piece, even after a failure
            try { f.join(); } catch (Throwable e) { if (failed == null) failed = e; else failed.addSuppressed(e); }
        }
        if (failed instanceof RuntimeException r) throw r;
        if (failed instanceof Error e) throw e;
        if (failed != null) throw new IllegalStateException("Parallel.forRange: a piece failed", failed);
    }

    /** The pieces of the recursive split of [lo, hi) into p, one after another on this thread. */
    private static void runPieces(RangeBody body, long lo, long hi, int p) {
        if (p <= 1) { body.run(lo, hi); return; }
        int left = p / 2;
        long mid = Split.mid(lo, hi, p, left);
        runPieces(body, lo, mid, left);
        runPieces(body, mid, hi, p - left);
    }

    private static final class Split extends RecursiveAction {
        private final RangeBody body;
        private final long lo, hi;
        private final int pieces;

        Split(RangeBody body, long lo, long hi, int pieces) {
            this.body = body; this.lo = lo; this.hi = hi; this.pieces = pieces;
        }

        @Override protected void compute() {
            if (pieces <= 1) { body.run(lo, hi); return; }
            int leftPieces = pieces / 2;
            long mid = mid(lo, hi, pieces, leftPieces);
            invokeAll(new Split(body, lo, mid, leftPieces), new Split(body, mid, hi, pieces - leftPieces));
        }

        /** Where [lo, hi) in pieces splits after leftPieces of them: the sizes differ by at most one. */
        static long mid(long lo, long hi, int pieces, int leftPieces) {
            return lo + (hi - lo) / pieces * leftPieces + (hi - lo) % pieces * leftPieces / pieces;
        }
    }
}
