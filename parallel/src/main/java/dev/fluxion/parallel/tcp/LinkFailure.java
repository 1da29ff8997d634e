package dev.fluxion.parallel.tcp;

/**
 * What went wrong on this rank's side of a transfer, before the group's failure report turns it into a
 * {@link dev.fluxion.parallel.DistributedException}: the peer closed or reset its connection, sent a
 * header of another operation, or nothing arrived before the deadline.
 */
final class LinkFailure extends Exception {
    enum Kind { CLOSED, TIMEOUT, MISMATCH, CONNECT }

    final Kind kind;
    final int peer;   // group rank

    LinkFailure(Kind kind, int peer, String detail) {
        super(detail, null, false, false);
        this.kind = kind;
        this.peer = peer;
    }

    LinkFailure(Kind kind, int peer, String detail, Throwable cause) {
        super(detail, cause, false, false);
        this.kind = kind;
        this.peer = peer;
    }
}
