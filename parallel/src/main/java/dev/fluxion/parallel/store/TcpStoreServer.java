package dev.fluxion.parallel.store;

import dev.fluxion.parallel.net.Deadline;
import dev.fluxion.parallel.net.TimedChannel;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

import static dev.fluxion.parallel.store.Protocol.*;

/**
 * The store's server, hosted by rank 0: one thread per client connection (a job has few), values in memory.
 * A client must present the shared token in its first message or it is refused and disconnected; until then
 * it can send nothing else, and its first frame must arrive within ten seconds.
 *
 * <p>Before a client is admitted it can make the server hold little: its first frame must be a hello of at
 * most {@code MAX_HELLO} (about 1 KiB; a longer length prefix is refused before anything is allocated), and at
 * most {@value #MAX_PENDING} connections wait to be admitted at a time (a new one closes the oldest waiting
 * one; a real client sends its hello at once after connecting, so it is not the oldest for long). In all,
 * clients without the token can make the server hold about {@value #MAX_PENDING} x 1 KiB of buffers.
 *
 * <pre>{@code
 * try (var server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 29500), token)) { ... }
 * }</pre>
 */
public final class TcpStoreServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("dev.fluxion.parallel");
    private static final Duration HELLO_WITHIN = Duration.ofSeconds(10);
    private static final Duration REPLY_WITHIN = Duration.ofSeconds(30);
    /** Connections not yet admitted, at most; see the class comment. */
    static final int MAX_PENDING = 32;

    private final ServerSocketChannel listener;
    private final byte[] token;
    private final int generation;
    private final Map<String, byte[]> values = new HashMap<>();   // guarded by itself; notifyAll on every change
    private final Set<TimedChannel> clients = ConcurrentHashMap.newKeySet();
    private final LinkedHashSet<TimedChannel> pending = new LinkedHashSet<>();   // not yet admitted, oldest first; guarded by itself
    private final Thread acceptor;
    private volatile boolean closed;

    private TcpStoreServer(ServerSocketChannel listener, byte[] token, int generation) {
        this.listener = listener;
        this.token = token.clone();
        this.generation = generation;
        this.acceptor = new Thread(this::acceptLoop, "fluxion-store-accept");
        acceptor.setDaemon(true);
    }

    /**
     * Binds address (port 0 picks a free port, see {@link #port()}) and starts serving clients that present
     * token, which must not be empty (a store without one would admit anybody who can reach the port).
     */
    public static TcpStoreServer start(InetSocketAddress address, byte[] token) throws IOException { return start(address, token, 0); }

    /**
     * Starts a store for one generation of a job (its restart count): clients of another generation are refused
     * with STALE, so restarted ranks never join the previous run's store while it shuts down.
     */
    public static TcpStoreServer start(InetSocketAddress address, byte[] token, int generation) throws IOException {
        if (generation < 0) throw new IllegalArgumentException("store: generation must be >= 0, got " + generation);
        if (token == null || token.length == 0)
            throw new IllegalArgumentException("store: the token is empty; every store needs a secret its clients present (FLUXION_STORE_TOKEN)");
        if (token.length > MAX_TOKEN) throw new IllegalArgumentException("store: the token has " + token.length + " bytes; at most " + MAX_TOKEN);
        ServerSocketChannel ch = ServerSocketChannel.open();
        try {
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ch.bind(address, 128);
        } catch (IOException e) {
            ch.close();
            throw new IOException("store: cannot listen on " + address + " (" + e.getMessage() + "); is MASTER_PORT in use by another job?", e);
        }
        TcpStoreServer s = new TcpStoreServer(ch, token, generation);
        s.acceptor.start();
        return s;
    }

    public int port() { return ((InetSocketAddress) localAddress()).getPort(); }

    public java.net.SocketAddress localAddress() {
        try { return listener.getLocalAddress(); } catch (IOException e) { throw new java.io.UncheckedIOException(e); }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel raw = listener.accept();
                TimedChannel ch;
                try {
                    ch = new TimedChannel(raw, "store client " + remote(raw));
                } catch (IOException e) {
                    raw.close();
                    continue;
                }
                TimedChannel evicted = null;
                synchronized (pending) {
                    if (pending.size() >= MAX_PENDING) { evicted = pending.iterator().next(); pending.remove(evicted); }
                    pending.add(ch);
                }
                if (evicted != null) {
                    LOG.warning("store: more than " + MAX_PENDING + " connections waiting to be admitted; closing the oldest, " + evicted.peer());
                    evicted.close();   // also wakes its thread out of its read
                }
                Thread t = new Thread(() -> serve(ch), "fluxion-store-client");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                if (!closed) LOG.warning("store: accept failed: " + e);
            }
        }
    }

    private void serve(TimedChannel ch) {
        String who = ch.peer();
        try (ch) {
            clients.add(ch);
            try {
                ByteBuffer len = ByteBuffer.allocate(4);
                ch.readFully(len, Deadline.after(HELLO_WITHIN));
                int n = len.flip().getInt();
                if (n < 1 || n > MAX_HELLO) {   // refused before anything is allocated for it
                    refuse(ch, "the first frame (" + n + " bytes) must be a hello of at most " + MAX_HELLO + " bytes: not a Fluxion store client");
                    return;
                }
                ByteBuffer hello = ByteBuffer.allocate(n);
                ch.readFully(hello, Deadline.after(HELLO_WITHIN));
                if (!admit(ch, hello.flip())) return;
                synchronized (pending) { pending.remove(ch); }
                while (!closed) {
                    ByteBuffer req = readFrame(ch, Deadline.never());
                    ch.writeFully(handle(req), Deadline.after(REPLY_WITHIN));
                }
            } finally {
                clients.remove(ch);
                synchronized (pending) { pending.remove(ch); }
            }
        } catch (EOFException e) {
            // the client went away: normal at the end of a job
        } catch (IOException | RuntimeException e) {
            if (!closed) LOG.fine("store: dropped " + who + ": " + e);
        }
    }

    private boolean admit(TimedChannel ch, ByteBuffer hello) throws IOException {
        String refusal = null;
        if (hello.remaining() < 7 || hello.get() != HELLO || hello.getInt() != MAGIC) refusal = "not a Fluxion store client";
        else if (hello.getShort() != VERSION) refusal = "store protocol version mismatch (server speaks " + VERSION + ")";
        else {
            byte[] given = bytes(hello, MAX_TOKEN, "token");
            if (!MessageDigest.isEqual(given, token)) refusal = "wrong token: this store belongs to another job, or FLUXION_STORE_TOKEN differs between ranks";
            else if (hello.remaining() < 4) refusal = "hello without a generation";
            else if (hello.getInt() != generation) {
                LOG.fine("store: " + ch.peer() + " is of another generation than " + generation);
                ch.writeFully(frame(STALE, generation), Deadline.after(REPLY_WITHIN));
                return false;
            }
        }
        if (refusal != null) {
            refuse(ch, refusal);
            return false;
        }
        ch.writeFully(frame(OK), Deadline.after(REPLY_WITHIN));
        return true;
    }

    private static void refuse(TimedChannel ch, String why) throws IOException {
        LOG.warning("store: refused " + ch.peer() + ": " + why);
        ch.writeFully(frame(DENIED, why), Deadline.after(Duration.ofSeconds(2)));
    }

    /** Connections not yet admitted (for tests). */
    int pendingCount() { synchronized (pending) { return pending.size(); } }

    private static ByteBuffer readFrame(TimedChannel ch, Deadline deadline) throws IOException {
        ByteBuffer len = ByteBuffer.allocate(4);
        ch.readFully(len, deadline);
        int n = len.flip().getInt();
        if (n < 1 || n > MAX_FRAME) throw new IOException("frame of " + n + " bytes (limit " + MAX_FRAME + ")");
        ByteBuffer body = ByteBuffer.allocate(n);
        ch.readFully(body, deadline);
        return body.flip();
    }

    private ByteBuffer handle(ByteBuffer req) {
        byte op = req.get();
        try {
            return switch (op) {
                case SET -> { String k = key(req); byte[] v = bytes(req, MAX_FRAME, "value"); put(k, v); yield frame(OK); }
                case GET -> get(key(req), req.getLong());
                case TRY_GET -> {
                    byte[] v;
                    synchronized (values) { v = values.get(key(req)); }
                    yield v == null ? frame(NOT_FOUND) : frame(OK, v);
                }
                case WAIT -> waitAll(req);
                case ADD -> frame(OK, add(key(req), req.getLong()));
                case CAS -> cas(req);
                case DELETE -> {
                    boolean existed;
                    synchronized (values) { existed = values.remove(key(req)) != null; values.notifyAll(); }
                    yield frame(OK, (byte) (existed ? 1 : 0));
                }
                default -> frame(ERROR, "unknown store op " + op);
            };
        } catch (RuntimeException e) {
            return frame(ERROR, opName(op) + ": " + e.getMessage());
        }
    }

    private void put(String k, byte[] v) {
        synchronized (values) { values.put(k, v); values.notifyAll(); }
    }

    private ByteBuffer get(String k, long timeoutMs) {
        Deadline d = Deadline.afterMillis(timeoutMs);
        synchronized (values) {
            while (!values.containsKey(k)) {
                if (!waitOn(d)) return frame(TIMEOUT);
            }
            return frame(OK, values.get(k));
        }
    }

    private ByteBuffer waitAll(ByteBuffer req) {
        int n = req.getInt();
        if (n < 0 || n > 1 << 20) throw new IllegalArgumentException("wait for " + n + " keys");
        List<String> keys = new ArrayList<>(n);
        for (int i = 0; i < n; i++) keys.add(key(req));
        Deadline d = Deadline.afterMillis(req.getLong());
        synchronized (values) {
            while (true) {
                List<String> missing = new ArrayList<>();
                for (String k : keys) if (!values.containsKey(k)) missing.add(k);
                if (missing.isEmpty()) return frame(OK);
                if (!waitOn(d)) {
                    Object[] fields = new Object[missing.size() + 1];
                    fields[0] = missing.size();
                    for (int i = 0; i < missing.size(); i++) fields[i + 1] = missing.get(i);
                    return frame(TIMEOUT, fields);
                }
            }
        }
    }

    /** Waits on values until notified or the deadline; false once the deadline has passed. Caller holds the lock. */
    private boolean waitOn(Deadline d) {
        long ms = d.millisLeft();
        if (ms == 0 || closed) return false;
        try { values.wait(ms); } catch (InterruptedException e) { Thread.currentThread().interrupt(); return false; }
        return true;
    }

    private long add(String k, long delta) {
        synchronized (values) {
            byte[] old = values.get(k);
            long v;
            try {
                v = old == null ? 0 : Long.parseLong(new String(old, java.nio.charset.StandardCharsets.US_ASCII));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("key '" + k + "' does not hold a counter");
            }
            v += delta;
            values.put(k, Long.toString(v).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            values.notifyAll();
            return v;
        }
    }

    private ByteBuffer cas(ByteBuffer req) {
        String k = key(req);
        boolean hasExpected = req.get() != 0;
        byte[] expected = bytes(req, MAX_FRAME, "expected value");
        byte[] desired = bytes(req, MAX_FRAME, "desired value");
        synchronized (values) {
            byte[] cur = values.get(k);
            boolean match = hasExpected ? cur != null && java.util.Arrays.equals(cur, expected) : cur == null;
            if (match) { values.put(k, desired); values.notifyAll(); cur = desired; }
            return cur == null ? frame(OK, (byte) 0, new byte[0]) : frame(OK, (byte) 1, cur);
        }
    }

    private static String remote(SocketChannel ch) {
        try { return String.valueOf(ch.getRemoteAddress()); } catch (IOException e) { return "?"; }
    }

    /** Stops accepting, disconnects every client and wakes their waits. */
    @Override public void close() {
        closed = true;
        try { listener.close(); } catch (IOException ignored) { }
        for (TimedChannel c : clients) c.close();
        synchronized (pending) { pending.forEach(TimedChannel::close); pending.clear(); }
        synchronized (values) { values.notifyAll(); }
    }
}
