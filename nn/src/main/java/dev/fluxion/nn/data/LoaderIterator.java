package dev.fluxion.nn.data;

import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.lang.ref.Cleaner;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One epoch of a {@link DataLoader}: runs the plan's Works on the calling thread (no workers) or on a pool of
 * worker threads with a bounded number in flight, and hands results back in plan order.
 */
final class LoaderIterator<B> implements DataLoader.Batches<B> {
    /** The result of a stream's Work past the stream's end. */
    static final Object END = new Object();

    /** The batches of an epoch, in order: each next() is the work of one batch, null when none is left. */
    interface Plan { Work next(); }

    /** Makes one batch (or END); runs on a worker thread when there are workers. */
    interface Work { Object make(); }

    /** A batch and the tensors its Work made (the ones to hand to the caller's scope, or to free). */
    private record Made(Object batch, List<Tensor> tensors) {}

    private static final Cleaner CLEANER = Cleaner.create();
    private static final AtomicInteger POOLS = new AtomicInteger();
    private static final long IDLE_SECONDS = 2;

    private final Plan plan;
    private final ThreadPoolExecutor pool;        // null without workers
    private final Cleaner.Cleanable cleanable;
    private final int maxInFlight;
    private final ArrayDeque<Future<Made>> inFlight = new ArrayDeque<>();
    private boolean planDone, done;
    private Made ready;

    LoaderIterator(Plan plan, int threads, int maxInFlight) {
        this.plan = plan;
        this.maxInFlight = Math.max(1, maxInFlight);
        if (threads == 0) {
            pool = null;
            cleanable = null;
            return;
        }
        int id = POOLS.incrementAndGet();
        AtomicInteger n = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, "fluxion-data-" + id + "-worker-" + n.getAndIncrement());
            t.setDaemon(true);
            return t;
        };
        pool = new ThreadPoolExecutor(threads, threads, IDLE_SECONDS, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), factory);
        pool.allowCoreThreadTimeOut(true);   // an abandoned epoch's idle workers exit on their own
        ThreadPoolExecutor p = pool;         // the cleaning action must not hold this iterator
        cleanable = CLEANER.register(this, p::shutdownNow);
    }

    @Override public boolean hasNext() {
        if (ready != null) return true;
        if (done) return false;
        Made m;
        if (pool == null) {
            Work w = plan.next();
            try {
                m = w == null ? null : make(w);
            } catch (RuntimeException | Error e) {
                close();
                throw e;
            }
        } else {
            fill();
            m = inFlight.isEmpty() ? null : take(inFlight.poll());
        }
        if (m == null || m.batch == END) {
            close();
            return false;
        }
        ready = m;
        if (pool != null) fill();
        return true;
    }

    @SuppressWarnings("unchecked")
    @Override public B next() {
        if (!hasNext()) throw new NoSuchElementException("DataLoader: the epoch has no more batches");
        Made m = ready;
        ready = null;
        if (pool != null) for (Tensor t : m.tensors) Scope.adopt(t);   // made on a worker: the caller's step scope owns it now
        return (B) m.batch;
    }

    /** Runs a Work in a scope of its own: the samples and other temporaries are freed, the batch's tensors kept. */
    private static Made make(Work w) {
        try (Scope scope = Scope.open()) {
            Object batch = w.make();
            List<Tensor> made = new ArrayList<>();
            Collate.forEachTensor(batch, t -> {
                if (scope.tracks(t)) made.add(scope.keep(t));   // tensors the dataset owns (not made here) are left alone
            });
            return new Made(batch, made);
        }
    }

    private void fill() {
        while (!planDone && inFlight.size() < maxInFlight) {
            Work w = plan.next();
            if (w == null) {
                planDone = true;
                break;
            }
            inFlight.add(pool.submit(() -> make(w)));
        }
    }

    private Made take(Future<Made> f) {
        try {
            return f.get();
        } catch (ExecutionException e) {
            close();
            Throwable c = e.getCause();
            if (c instanceof DataLoaderException d)   // a new exception, so the trace shows this thread's call too
                throw new DataLoaderException(d.getMessage(), d.batch(), d.index(), d.getCause());
            throw new DataLoaderException("DataLoader: a worker failed: " + c, -1, -1, c);
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new DataLoaderException("DataLoader: interrupted while waiting for a batch", -1, -1, e);
        }
    }

    /** Stops the workers, waits briefly for running Works, and frees the batches made but not taken. */
    @Override public void close() {
        if (done) return;
        done = true;
        List<Made> unused = new ArrayList<>();
        if (ready != null) unused.add(ready);
        ready = null;
        if (pool != null) {
            pool.shutdownNow();
            try {
                pool.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            for (Future<Made> f : inFlight) {
                if (!f.isDone()) continue;
                try {
                    unused.add(f.get());
                } catch (ExecutionException | CancellationException | InterruptedException e) {
                    // a Work that failed or never ran made no batch to free
                }
            }
            inFlight.clear();
            cleanable.clean();
        }
        for (Made m : unused) for (Tensor t : m.tensors) t.close();
    }

    /** Worker threads alive now (for tests: 0 after close). */
    int liveWorkers() { return pool == null ? 0 : pool.getPoolSize(); }

    /** True once the pool has no running thread left. */
    boolean terminated() { return pool == null || pool.isTerminated(); }
}
