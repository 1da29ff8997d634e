package dev.fluxion.parallel.nccl;

import dev.fluxion.parallel.DistributedException;

import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntSupplier;

/**
 * One NCCL communicator's calls, one thread at a time, and its abort after the last call in progress. NCCL's
 * thread-safety rules: a communicator may be used from several threads only if a single thread operates it at
 * any moment; and {@code ncclCommAbort} frees it. So every call (enqueueing a collective, querying its state,
 * finalizing) runs under this guard, and an abort requested from another thread (the watchdog) marks the
 * communicator dead at once, then runs the abort when the thread inside a call has left it: no call ever runs
 * on a freed communicator, and none starts after the abort was requested. The communicator is non-blocking,
 * so calls return promptly and the abort waits only for that.
 */
final class CommGuard {
    private final ReentrantLock lock = new ReentrantLock();
    private final Runnable abortAction;
    private final Runnable destroyAction;
    private volatile boolean dead;
    private boolean released;          // under lock: ncclCommAbort or ncclCommDestroy ran

    /** abortAction: ncclCommAbort(comm); destroyAction: ncclCommDestroy(comm). Each runs at most once, and only one of them. */
    CommGuard(Runnable abortAction, Runnable destroyAction) {
        this.abortAction = abortAction;
        this.destroyAction = destroyAction;
    }

    /** Runs an NCCL call on the communicator; throws when it was aborted (or is being aborted). */
    int call(String what, IntSupplier nccl) {
        lock.lock();
        try {
            if (dead) throw new DistributedException(what + " was not run: the NCCL communicator was aborted");
            return nccl.getAsInt();
        } finally {
            lock.unlock();
        }
    }

    /** Whether an abort was requested (no further call will run). */
    boolean isDead() { return dead; }

    /**
     * Aborts: no call starts after this returns or while it waits; ncclCommAbort runs once the call in progress
     * (if any) has returned, which for a non-blocking communicator is promptly. Idempotent.
     */
    void abort() {
        dead = true;
        lock.lock();
        try { release(true); } finally { lock.unlock(); }
    }

    /** Destroys the communicator after a clean finalize (no-op once it was aborted or destroyed). */
    void destroy() {
        lock.lock();
        try {
            if (!dead) { dead = true; release(false); }
            else release(true);
        } finally {
            lock.unlock();
        }
    }

    /** Caller holds the lock. */
    private void release(boolean abort) {
        if (released) return;
        released = true;
        (abort ? abortAction : destroyAction).run();
    }

    /** Whether the communicator was aborted or destroyed (its handle is invalid now). */
    boolean isReleased() {
        lock.lock();
        try { return released; } finally { lock.unlock(); }
    }
}
