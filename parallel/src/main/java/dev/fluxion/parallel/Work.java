package dev.fluxion.parallel;

import java.time.Duration;

/**
 * The handle of an asynchronous operation of a {@link ProcessGroup}. The operation's result (the tensor
 * written in place) may be read once {@link #waitFor()} has returned.
 *
 * <pre>{@code
 * Work w = pg.allReduce(grads, ReduceOp.AVG);   // returns at once; the transfer runs on the group's thread
 * ...                                            // other work overlaps the communication
 * w.waitFor();                                   // throws DistributedException if it failed or timed out
 * }</pre>
 */
public interface Work {
    /** True once the operation has finished, successfully or not. */
    boolean isDone();

    /**
     * Waits until the operation has finished and rethrows its failure. It never waits forever: the operation
     * itself fails after the group's timeout.
     */
    void waitFor();

    /** Waits at most timeout; throws DistributedException if the operation failed or is still running then. */
    void waitFor(Duration timeout);

    /** What the operation is, e.g. "allReduce #3 (float32 [1024], avg) on rank 0 of 2". */
    String description();
}
