package dev.fluxion.tensor.cpu;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The worker threads behind {@link Parallel#forRange}: {@code count} daemon threads that take pieces of posted
 * jobs, spin for {@code spinNanos} after their last piece and then park.
 *
 * <p>Why not a fork-join pool: waking a parked fork-join worker cost 50-80 us per call on this 2-core machine
 * (measured: forRange of two empty pieces, back to back), more than a 256 x 256 GEMM half takes, and a training
 * step makes hundreds of such calls. A worker that spins a little after each job sees the next one in well under
 * a microsecond; PyTorch's OpenMP threads spin the same way (libgomp's GOMP_SPINCOUNT) before they sleep. The
 * spin is short (50 us by default, {@code -Dfluxion.spinMicros}), unlike OpenBLAS's 0.1 s, so an idle process
 * gives its cores back almost at once.
 *
 * <p>The caller of a job always takes pieces too, so a job finishes even when every worker is busy with another
 * caller's job (ranks as threads share one pool) or the pool was replaced.
 */
final class Workers {
    private final Worker[] workers;
    private final ConcurrentLinkedQueue<Job> jobs = new ConcurrentLinkedQueue<>();
    private final long spinNanos;
    private volatile boolean shutdown;

    Workers(int count, long spinNanos) {
        this.spinNanos = spinNanos;
        workers = new Worker[count];
        for (int i = 0; i < count; i++) {
            workers[i] = new Worker("fluxion-cpu-" + (i + 1));
            workers[i].start();
        }
    }

    /** Whether the current thread is one of any pool's workers (a nested forRange then runs inline). */
    static boolean onWorker() { return Thread.currentThread() instanceof Worker; }

    void shutdown() {
        shutdown = true;
        for (Worker w : workers) LockSupport.unpark(w);
    }

    /** Runs body over the pieces [bounds[i], bounds[i + 1]) on the calling thread and the workers; rethrows the first failure. */
    void run(Parallel.RangeBody body, long[] bounds) {
        Job job = new Job(body, bounds, Thread.currentThread());
        jobs.add(job);
        int wake = Math.min(workers.length, bounds.length - 2);   // pieces - 1: the caller takes one
        for (int i = 0; i < wake; i++) if (workers[i].parked) LockSupport.unpark(workers[i]);
        for (int p; (p = job.claim()) >= 0; ) job.runPiece(p);
        jobs.remove(job);
        job.awaitDone(spinNanos);
        job.rethrow();
    }

    private final class Worker extends Thread {
        /** Set before the last look at the queue and parking; the poster reads it after adding its job (so one of them sees the other). */
        volatile boolean parked;

        Worker(String name) {
            super(name);
            setDaemon(true);
        }

        @Override public void run() {
            while (!shutdown) {
                Job job = jobs.peek();
                if (job != null) {
                    int p = job.claim();
                    if (p >= 0) job.runPiece(p);
                    else jobs.remove(job);        // every piece taken: make way for the next job
                    continue;
                }
                long until = System.nanoTime() + spinNanos;
                while (jobs.isEmpty() && !shutdown && System.nanoTime() - until < 0) Thread.onSpinWait();
                if (!jobs.isEmpty()) continue;
                parked = true;
                if (jobs.isEmpty() && !shutdown) LockSupport.park(this);
                parked = false;
            }
        }
    }

    /** One forRange call: its pieces, who took how many, the first failure. */
    private static final class Job {
        private final Parallel.RangeBody body;
        private final long[] bounds;
        private final Thread caller;
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicInteger unfinished;
        private Throwable failure;   // guarded by this

        Job(Parallel.RangeBody body, long[] bounds, Thread caller) {
            this.body = body;
            this.bounds = bounds;
            this.caller = caller;
            this.unfinished = new AtomicInteger(bounds.length - 1);
        }

        /** The next untaken piece, or -1 when all are taken. */
        int claim() {
            if (next.get() >= bounds.length - 1) return -1;
            int p = next.getAndIncrement();
            return p < bounds.length - 1 ? p : -1;
        }

        void runPiece(int p) {
            try {
                body.run(bounds[p], bounds[p + 1]);
            } catch (Throwable e) {
                synchronized (this) {
                    if (failure == null) failure = e;
                    else if (failure != e) failure.addSuppressed(e);
                }
            } finally {
                if (unfinished.decrementAndGet() == 0 && Thread.currentThread() != caller) LockSupport.unpark(caller);
            }
        }

        /** Waits for pieces other threads took: spins first (they are usually about done), then parks. */
        void awaitDone(long spinNanos) {
            long until = System.nanoTime() + spinNanos;
            while (unfinished.get() > 0 && System.nanoTime() - until < 0) Thread.onSpinWait();
            while (unfinished.get() > 0) LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(1));
        }

        void rethrow() {
            Throwable e;
            synchronized (this) { e = failure; }
            if (e instanceof RuntimeException r) throw r;
            if (e instanceof Error err) throw err;
            if (e != null) throw new IllegalStateException("Parallel.forRange: a piece failed", e);
        }
    }
}
