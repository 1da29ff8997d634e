package dev.fluxion.parallel;

/**
 * A collective, a point-to-point transfer, the store or the rendezvous failed: a peer died, stalled past the
 * timeout, closed its connection, or called a different operation. The message names the operation, this
 * rank, the rank held responsible and what was seen, e.g. {@code "allReduce #17 (float32 [1000], sum) failed
 * on rank 1 of 4 after 5.0 s: rank 3 is dead or unreachable (rank 0 lost its connection to it)"}.
 */
public class DistributedException extends RuntimeException {
    public DistributedException(String message) { super(message); }

    public DistributedException(String message, Throwable cause) { super(message, cause); }
}
