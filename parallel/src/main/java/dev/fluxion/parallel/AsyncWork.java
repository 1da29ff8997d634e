package dev.fluxion.parallel;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The {@link Work} that backends return: completed by the group's thread, waited on by the caller.
 * A failure is rethrown to each waiter as a new DistributedException with the same message, so the
 * waiter's stack shows where it waited and the cause shows where it failed.
 */
public final class AsyncWork implements Work {
    private final CompletableFuture<Void> future = new CompletableFuture<>();
    private final String description;

    public AsyncWork(String description) { this.description = description; }

    /** A work that has already finished successfully. */
    public static AsyncWork done(String description) {
        AsyncWork w = new AsyncWork(description);
        w.complete();
        return w;
    }

    /** A work that has already failed. */
    public static AsyncWork failed(String description, DistributedException e) {
        AsyncWork w = new AsyncWork(description);
        w.fail(e);
        return w;
    }

    public void complete() { future.complete(null); }

    public void fail(DistributedException e) { future.completeExceptionally(e); }

    @Override public boolean isDone() { return future.isDone(); }

    @Override public String description() { return description; }

    @Override public void waitFor() {
        try {
            future.get();
        } catch (ExecutionException e) {
            throw rethrow(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DistributedException("interrupted while waiting for " + description, e);
        }
    }

    @Override public void waitFor(Duration timeout) {
        try {
            future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            throw rethrow(e.getCause());
        } catch (TimeoutException e) {
            throw new DistributedException(description + " did not finish within " + dev.fluxion.parallel.net.Deadline.format(timeout));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DistributedException("interrupted while waiting for " + description, e);
        }
    }

    private static DistributedException rethrow(Throwable cause) {
        return new DistributedException(cause.getMessage(), cause);
    }

    @Override public String toString() { return description + (isDone() ? " (done)" : " (running)"); }
}
