package dev.fluxion.parallel.store;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A key-value store the ranks of a job share for rendezvous: listening addresses, NCCL unique ids, failure
 * reports. Every call that waits is bounded (by its argument or by {@link #timeout()}) and throws a
 * {@link StoreException} naming the key and the wait when it runs out.
 *
 * <pre>{@code
 * store.set("pg/0/addr/1", "127.0.0.1:40123");
 * String peer = store.getString("pg/0/addr/0");           // waits until rank 0 has set it
 * long arrived = store.add("barrier/1", 1);               // atomic counter
 * }</pre>
 */
public interface Store extends AutoCloseable {
    /** Sets key to value, replacing any previous value, and wakes every waiter on it. */
    void set(String key, byte[] value);

    /** The value of key, waiting up to timeout for some rank to set it. */
    byte[] get(String key, Duration timeout);

    /** The value of key now, if it is set. */
    Optional<byte[]> tryGet(String key);

    /** Waits up to timeout until every key is set. */
    void waitFor(List<String> keys, Duration timeout);

    /** Adds delta to the counter at key (absent counts as 0) and returns the new value; stored as decimal text. */
    long add(String key, long delta);

    /**
     * Sets key to desired if its current value equals expected (null expected: only if key is absent) and
     * returns the value key holds afterwards (desired on success, the current value otherwise; null if absent).
     */
    byte[] compareAndSet(String key, byte[] expected, byte[] desired);

    /** Removes key; true if it was set. */
    boolean delete(String key);

    /** The default wait of {@link #get(String)} and {@link #waitFor(List)}. */
    Duration timeout();

    @Override void close();

    default byte[] get(String key) { return get(key, timeout()); }

    default void waitFor(List<String> keys) { waitFor(keys, timeout()); }

    default void set(String key, String value) { set(key, value.getBytes(StandardCharsets.UTF_8)); }

    default String getString(String key) { return new String(get(key), StandardCharsets.UTF_8); }

    default String getString(String key, Duration timeout) { return new String(get(key, timeout), StandardCharsets.UTF_8); }
}
