package dev.fluxion.parallel.nccl;

import dev.fluxion.parallel.AsyncWork;
import dev.fluxion.parallel.DistributedException;
import dev.fluxion.parallel.net.Deadline;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.nccl.ncclComm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static org.bytedeco.cuda.global.cudart.*;
import static org.bytedeco.cuda.global.nccl.*;

/**
 * Completes NCCL works when their events fire, and aborts the communicator (once: it is freed by the abort)
 * when NCCL reports an error or a work outlives its deadline: PyTorch's watchdog, with the group's timeout
 * instead of a 10-minute default. One thread per group. Every NCCL call, the watchdog's state queries and its
 * abort included, goes through the group's {@link CommGuard}, so the abort never frees the communicator under a
 * thread that is inside an NCCL call on it.
 */
final class Watchdog {
    private record Pending(AsyncWork work, String what, CUevent_st event, Deadline deadline) {}

    private final ncclComm comm;
    private final CommGuard guard;
    private final Function<String, String> blame;
    private final List<Pending> pending = new ArrayList<>();
    private final Thread thread;
    private volatile DistributedException broken;
    private volatile boolean stopped;

    Watchdog(ncclComm comm, CommGuard guard, String who, Function<String, String> blame) {
        this.comm = comm;
        this.guard = guard;
        this.blame = blame;
        this.thread = new Thread(this::loop, "fluxion-nccl-watchdog " + who);
        thread.setDaemon(true);
        thread.start();
    }

    DistributedException broken() { return broken; }

    /**
     * Waits until the communicator is no longer in progress. On an NCCL error or the deadline it breaks the
     * group, fails w (and everything pending) and returns false.
     */
    synchronized boolean awaitIdle(Deadline d, AsyncWork w, String what) {
        while (broken == null) {
            int state = state();
            if (state == ncclSuccess) return true;
            if (state != ncclInProgress) { fail(w, what, "NCCL reported " + ncclGetErrorString(state).getString()); return false; }
            if (d.passed()) { fail(w, what, "NCCL did not accept the operation in time (a peer is missing)"); return false; }
            try { wait(1); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
        }
        w.fail(new DistributedException(w.description() + " was not run: the NCCL group broke earlier: " + broken.getMessage(), broken));
        return false;
    }

    /** Watches w, whose NCCL calls have been enqueued on stream. */
    synchronized void watch(AsyncWork w, String what, CUstream_st stream, Deadline deadline) {
        if (broken != null) { w.fail(new DistributedException(w.description() + ": the NCCL group broke: " + broken.getMessage(), broken)); return; }
        CUevent_st ev = new CUevent_st();
        NcclCalls.checkCuda(cudaEventCreateWithFlags(ev, cudaEventDisableTiming), "cudaEventCreateWithFlags");
        NcclCalls.checkCuda(cudaEventRecord(ev, stream), "cudaEventRecord");
        pending.add(new Pending(w, what, ev, deadline));
        notifyAll();
    }

    private void loop() {
        while (!stopped) {
            synchronized (this) {
                while ((pending.isEmpty() || broken != null) && !stopped) {
                    try { wait(100); } catch (InterruptedException e) { return; }
                }
                if (stopped) return;
                poll();
            }
            NcclProcessGroup.sleep(1);
        }
    }

    /** Caller holds the lock; the communicator is alive (not broken). */
    private void poll() {
        int state = state();
        if (state != ncclSuccess && state != ncclInProgress) {
            Pending p = pending.get(0);
            fail(p.work(), p.what(), "NCCL reported " + ncclGetErrorString(state).getString() + " (a peer failed or the network broke)");
            return;
        }
        for (int i = 0; i < pending.size(); i++) {
            Pending p = pending.get(i);
            int q = cudaEventQuery(p.event());
            if (q == cudaSuccess) {
                cudaEventDestroy(p.event());
                pending.remove(i--);
                p.work().complete();
            } else if (q != cudaErrorNotReady) {
                fail(p.work(), p.what(), "the CUDA stream failed: " + cudaGetErrorString(q).getString());
                return;
            } else if (p.deadline().passed()) {
                fail(p.work(), p.what(), "timed out on the GPU");
                return;
            }
        }
        notifyAll();
    }

    /** Aborts the communicator, then fails w and every pending work, naming the rank(s) responsible. Caller holds the lock. */
    private void fail(AsyncWork w, String what, String why) {
        DistributedException e = new DistributedException("(pending)");
        abortComm(e);
        String verdict = blame.apply(what);
        DistributedException full = new DistributedException(w.description() + " failed: " + verdict + ". This rank saw: " + why);
        broken = full;
        w.fail(full);
        failPending(full);
    }

    /** Breaks the group with e (if it is not broken yet) and fails every pending work. */
    synchronized void abort(DistributedException e) {
        abortComm(e);
        failPending(broken);
    }

    private void abortComm(DistributedException e) {
        if (broken == null) {
            broken = e;
            guard.abort();          // waits for a call in progress on another thread, then ncclCommAbort
        }
    }

    /** The communicator's state through the guard; an error once it was aborted. */
    int state() {
        if (guard.isDead()) return ncclInvalidUsage;
        try {
            return guard.call("ncclCommGetAsyncError", () -> NcclCalls.state(comm));
        } catch (DistributedException aborted) {
            return ncclInvalidUsage;
        }
    }

    private void failPending(DistributedException e) {
        for (Pending p : pending) p.work().fail(e);
        pending.clear();
        notifyAll();
    }

    /** Waits until every pending work has completed or failed (bounded by timeout). */
    synchronized void drain(Duration timeout) {
        Deadline d = Deadline.after(timeout.plusSeconds(5));
        while (!pending.isEmpty() && !d.passed()) {
            try { wait(Math.max(1, d.millisLeft())); } catch (InterruptedException e) { Thread.currentThread().interrupt(); return; }
        }
    }

    void stop() {
        stopped = true;
        thread.interrupt();
    }
}
