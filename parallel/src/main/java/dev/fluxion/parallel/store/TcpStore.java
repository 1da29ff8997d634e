package dev.fluxion.parallel.store;

import dev.fluxion.parallel.net.Deadline;
import dev.fluxion.parallel.net.TimedChannel;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static dev.fluxion.parallel.store.Protocol.*;

/**
 * A client of {@link TcpStoreServer}. One request at a time per client (calls from several threads queue);
 * a thread that blocks in {@code get} while others need the store should use its own client
 * ({@link #connectAnother()}). Connecting retries until the timeout, since rank 0 may start last.
 *
 * <pre>{@code
 * try (var store = TcpStore.connect("127.0.0.1", 29500, token, Duration.ofSeconds(30), "rank 1")) {
 *     store.set("hello", "world");
 * }
 * }</pre>
 */
public final class TcpStore implements Store {
    /** Extra time a socket read waits beyond a server-side wait, so the server's TIMEOUT reply arrives first (at most a quarter of the timeout). */
    private static final Duration MARGIN = Duration.ofSeconds(2);

    private final String host;
    private final int port;
    private final byte[] token;
    private final Duration timeout;
    private final String who;
    private final TimedChannel channel;   // requests on it are serialized by synchronizing on it (views share it)
    private final Deadline cap;           // no call of this client outlives it; null: none (see until)
    private final boolean owner;          // false for a view made by until: closing it leaves the connection open
    private final int generation;         // the job's restart count this client belongs to (see Protocol)

    private TcpStore(String host, int port, byte[] token, Duration timeout, String who, TimedChannel channel, Deadline cap, boolean owner, int generation) {
        this.host = host;
        this.port = port;
        this.token = token;
        this.timeout = timeout;
        this.who = who;
        this.channel = channel;
        this.cap = cap;
        this.owner = owner;
        this.generation = generation;
    }

    /**
     * Connects and authenticates with token (the server's secret; never empty). timeout bounds the connection
     * attempts and is the default wait of later calls; who names this client in messages ("rank 3").
     */
    public static TcpStore connect(String host, int port, byte[] token, Duration timeout, String who) {
        return connect(host, port, token, timeout, who, 0);
    }

    /**
     * As {@link #connect(String, int, byte[], Duration, String)} for one generation of a job (its restart count).
     * A store of an older generation (the previous run's rank 0, still shutting down) is left and tried again
     * until the timeout; a store of a newer one means this rank is left over from an earlier run, and fails.
     */
    public static TcpStore connect(String host, int port, byte[] token, Duration timeout, String who, int generation) {
        if (token == null || token.length == 0)
            throw new StoreException(who + ": no store token: set FLUXION_STORE_TOKEN to the secret rank 0's store was started with");
        byte[] t = token.clone();
        String where = "the store at " + host + ":" + port;
        Deadline deadline = Deadline.after(timeout);
        int staleSeen = -1;   // the generation of an older store this client met and left, if any
        while (true) {
            TimedChannel ch;
            try {
                ch = TimedChannel.connect(new InetSocketAddress(host, port), deadline, where);
            } catch (IOException e) {
                if (staleSeen >= 0) throw stale(who, where, staleSeen, generation, timeout);
                throw new StoreException(who + ": cannot reach " + where + " within " + Deadline.format(timeout) + " (" + e.getMessage()
                        + "); is rank 0 running and are MASTER_ADDR/MASTER_PORT right?", e);
            }
            TcpStore s = new TcpStore(host, port, t, timeout, who, ch, null, true, generation);
            int storeGeneration;
            try {
                ByteBuffer reply = s.call(frame(HELLO, MAGIC, VERSION, t, generation), HELLO, Duration.ZERO);
                byte status = reply.get();
                if (status == OK) return s;
                if (status == DENIED)
                    throw new StoreException(who + ": " + where + " refused this client: " + new String(bytes(reply, MAX_FRAME, "reason"), StandardCharsets.UTF_8));
                if (status != STALE) throw new StoreException(who + ": " + where + " answered hello with status " + status);
                storeGeneration = reply.getInt();
            } catch (StoreException e) {
                ch.close();
                // reset or closed during the hello (not a refusal): the previous run's rank 0 died with this connection
                // in its listen queue, or is dying; its successor is on the way, so try again until the timeout
                if (!(e.getCause() instanceof IOException) || e.getCause() instanceof SocketTimeoutException || deadline.passed()) throw e;
                pause(deadline, who, generation);
                continue;
            } catch (RuntimeException e) {
                ch.close();
                throw e;
            }
            ch.close();
            if (storeGeneration > generation)
                throw new StoreException(who + ": " + where + " serves restart " + storeGeneration + " of the job but this rank belongs to restart "
                        + generation + ": it is left over from an earlier run");
            staleSeen = storeGeneration;
            if (deadline.passed()) throw stale(who, where, storeGeneration, generation, timeout);
            pause(deadline, who, generation);   // the previous run's store is shutting down
        }
    }

    private static StoreException stale(String who, String where, int storeGeneration, int generation, Duration timeout) {
        return new StoreException(who + ": " + where + " still served restart " + storeGeneration + " of the job when the timeout ("
                + Deadline.format(timeout) + ") passed; this rank belongs to restart " + generation);
    }

    private static void pause(Deadline deadline, String who, int generation) {
        try {
            Thread.sleep(Math.min(100, Math.max(1, deadline.millisLeft())));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException(who + ": interrupted while waiting for the store of restart " + generation, e);
        }
    }

    /** A second connection to the same store, for another thread. */
    public TcpStore connectAnother() { return connect(host, port, token, timeout, who, generation); }

    /**
     * A view of this client on the same connection whose every call gives up at deadline, however long it would
     * otherwise wait: for work that must end by a fixed time, such as a failure report at the end of an
     * operation's timeout. Closing the view leaves this client open.
     */
    public TcpStore until(Deadline deadline) { return new TcpStore(host, port, token, timeout, who, channel, deadline, false, generation); }

    @Override public Duration timeout() { return timeout; }

    public String address() { return host + ":" + port; }

    /** The local address this client reaches the store from: the interface peers of this rank can reach it on. */
    public java.net.InetAddress localAddress() {
        try {
            return ((InetSocketAddress) channel.channel().getLocalAddress()).getAddress();
        } catch (IOException e) {
            throw new StoreException(who + ": the store connection is closed", e);
        }
    }

    @Override public void set(String key, byte[] value) {
        expectOk(call(frame(SET, key, value), SET, Duration.ZERO), "set", key);
    }

    @Override public byte[] get(String key, Duration wait) {
        ByteBuffer r = call(frame(GET, key, wait.toMillis()), GET, wait);
        byte status = r.get();
        if (status == TIMEOUT)
            throw new StoreException(who + ": store get('" + key + "') timed out after " + Deadline.format(wait) + ": no rank has set it");
        checkStatus(status, r, "get", key);
        return bytes(r, MAX_FRAME, "value");
    }

    @Override public Optional<byte[]> tryGet(String key) {
        ByteBuffer r = call(frame(TRY_GET, key), TRY_GET, Duration.ZERO);
        byte status = r.get();
        if (status == NOT_FOUND) return Optional.empty();
        checkStatus(status, r, "tryGet", key);
        return Optional.of(bytes(r, MAX_FRAME, "value"));
    }

    @Override public void waitFor(List<String> keys, Duration wait) {
        Object[] fields = new Object[keys.size() + 2];
        fields[0] = keys.size();
        for (int i = 0; i < keys.size(); i++) fields[i + 1] = keys.get(i);
        fields[keys.size() + 1] = wait.toMillis();
        ByteBuffer r = call(frame(WAIT, fields), WAIT, wait);
        byte status = r.get();
        if (status == TIMEOUT) {
            int n = r.getInt();
            List<String> missing = new ArrayList<>();
            for (int i = 0; i < n; i++) missing.add(key(r));
            throw new StoreException(who + ": store wait timed out after " + Deadline.format(wait) + "; still missing " + missing);
        }
        checkStatus(status, r, "wait", String.valueOf(keys));
    }

    @Override public long add(String key, long delta) {
        ByteBuffer r = call(frame(ADD, key, delta), ADD, Duration.ZERO);
        checkStatus(r.get(), r, "add", key);
        return r.getLong();
    }

    @Override public byte[] compareAndSet(String key, byte[] expected, byte[] desired) {
        ByteBuffer r = call(frame(CAS, key, (byte) (expected == null ? 0 : 1), expected == null ? new byte[0] : expected, desired), CAS, Duration.ZERO);
        checkStatus(r.get(), r, "compareAndSet", key);
        boolean present = r.get() != 0;
        byte[] v = bytes(r, MAX_FRAME, "value");
        return present ? v : null;
    }

    @Override public boolean delete(String key) {
        ByteBuffer r = call(frame(DELETE, key), DELETE, Duration.ZERO);
        checkStatus(r.get(), r, "delete", key);
        return r.get() != 0;
    }

    private void expectOk(ByteBuffer r, String op, String key) { checkStatus(r.get(), r, op, key); }

    private void checkStatus(byte status, ByteBuffer r, String op, String key) {
        if (status == OK) return;
        String msg = status == ERROR ? new String(bytes(r, MAX_FRAME, "message"), StandardCharsets.UTF_8) : "status " + status;
        throw new StoreException(who + ": store " + op + "('" + key + "') failed: " + msg);
    }

    /**
     * Sends one request and reads its reply; serverWait is how long the server itself may hold the request.
     * The reply must come within the client's timeout, or serverWait and a short margin for a request the
     * server holds, and never after the view's cap: a stalled rank 0 makes calls fail within those bounds.
     */
    private ByteBuffer call(ByteBuffer request, byte op, Duration serverWait) {
        Duration margin = MARGIN.compareTo(timeout.dividedBy(4)) < 0 ? MARGIN : timeout.dividedBy(4);
        Duration limit = serverWait.isZero() ? timeout : serverWait.plus(margin);
        Deadline d = Deadline.after(limit);
        if (cap != null) d = d.min(cap);
        synchronized (channel) {
            try {
                channel.writeFully(request, d);
                ByteBuffer len = ByteBuffer.allocate(4);
                channel.readFully(len, d);
                int n = len.flip().getInt();
                if (n < 1 || n > MAX_FRAME) throw new IOException("reply frame of " + n + " bytes");
                ByteBuffer body = ByteBuffer.allocate(n);
                channel.readFully(body, d);
                return body.flip();
            } catch (EOFException e) {
                throw new StoreException(who + ": store " + opName(op) + " failed: the store at " + address()
                        + " closed the connection (rank 0, which hosts it, has exited or refused this client)", e);
            } catch (SocketTimeoutException e) {
                channel.close();   // a reply may still arrive half-way: the connection cannot carry another request
                throw new StoreException(who + ": store " + opName(op) + " got no reply from " + address() + " within "
                        + Deadline.format(limit) + (cap != null && cap.passed() ? " (or before the end of this rank's failure report)" : "")
                        + " (rank 0, which hosts it, is stalled or unreachable)", e);
            } catch (IOException e) {
                throw new StoreException(who + ": store " + opName(op) + " failed talking to " + address() + ": " + e.getMessage()
                        + " (rank 0, which hosts it, may have died or stalled)", e);
            }
        }
    }

    @Override public void close() { if (owner) channel.close(); }
}
