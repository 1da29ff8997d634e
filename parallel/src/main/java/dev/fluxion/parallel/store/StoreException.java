package dev.fluxion.parallel.store;

import dev.fluxion.parallel.DistributedException;

/** A store call failed: it timed out, the store refused this client, or the store host is unreachable. */
public class StoreException extends DistributedException {
    public StoreException(String message) { super(message); }

    public StoreException(String message, Throwable cause) { super(message, cause); }
}
