package dev.fluxion.parallel.ps;

import dev.fluxion.nn.io.CheckpointDir;
import dev.fluxion.nn.io.TrainingCheckpoint;
import dev.fluxion.optim.Optimizer;
import dev.fluxion.parallel.net.Deadline;
import dev.fluxion.parallel.net.TimedChannel;
import dev.fluxion.tensor.Tensor;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.logging.Logger;

import static dev.fluxion.parallel.ps.Wire.*;

/**
 * One parameter server: holds shard {@code index} of a {@link ShardLayout}, takes workers' gradient pushes,
 * steps its own optimizer (SGD with momentum, AdamW, any {@link Optimizer}) and answers pulls as its
 * {@link Consistency} allows. A worker must present the shared token in its first frame, within ten seconds,
 * in at most {@link Wire#MAX_HELLO} bytes, or it is disconnected; at most {@link #MAX_UNADMITTED} connections
 * may be waiting to say hello at once. One thread per admitted worker.
 *
 * <pre>{@code
 * var layout = ShardLayout.of(shapes, 2);
 * var server = ParameterServer.start(new InetSocketAddress("127.0.0.1", 0), token, layout, 0, model.parameters(),
 *         ps -> new SGD(ps, SGD.Config.DEFAULT.withLr(0.1).withMomentum(0.9)), ParameterServer.Config.of(Consistency.ssp(3), 4));
 * }</pre>
 *
 * With a checkpoint folder, the server saves its state there atomically every {@code checkpointEvery} applied
 * updates (and on {@link #checkpoint()}), and a server started on a folder that holds a checkpoint resumes
 * from it: values, optimizer state and clocks.
 */
public final class ParameterServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("dev.fluxion.parallel");
    private static final Duration HELLO_WITHIN = Duration.ofSeconds(10);
    /** Connections allowed to be between accept and an accepted hello at once; more are closed at once. */
    public static final int MAX_UNADMITTED = 64;

    /**
     * @param workers the job's worker count (BSP waits for all of them; SSP/ASP divide each gradient by it)
     * @param timeout how long a pull may wait for other workers, and any single read or write
     * @param workerTimeout SSP/ASP: a worker silent this long (not waiting in a pull) is dropped
     * @param checkpointDir where to save and resume from; null for none
     * @param checkpointEvery save after every this many applied updates (BSP steps, SSP/ASP pushes); 0: only on request
     */
    public record Config(Consistency consistency, int workers, Duration timeout, Duration workerTimeout, Path checkpointDir, int checkpointEvery) {
        public Config {
            if (workers < 1) throw new IllegalArgumentException("ParameterServer.Config: workers must be >= 1, got " + workers);
            if (timeout.isNegative() || timeout.isZero() || workerTimeout.isNegative() || workerTimeout.isZero())
                throw new IllegalArgumentException("ParameterServer.Config: timeouts must be positive, got " + timeout + " and " + workerTimeout);
            if (checkpointEvery < 0) throw new IllegalArgumentException("ParameterServer.Config: checkpointEvery must be >= 0, got " + checkpointEvery);
        }

        /** Timeouts of 300 s (pulls) and 60 s (silent workers), no checkpoints. */
        public static Config of(Consistency consistency, int workers) {
            return new Config(consistency, workers, Duration.ofSeconds(300), Duration.ofSeconds(60), null, 0);
        }

        public Config withTimeouts(Duration timeout, Duration workerTimeout) { return new Config(consistency, workers, timeout, workerTimeout, checkpointDir, checkpointEvery); }
        public Config withCheckpoints(Path dir, int every) { return new Config(consistency, workers, timeout, workerTimeout, dir, every); }
    }

    private final ServerSocketChannel listener;
    private final byte[] token;
    private final int index;
    private final long fingerprint;
    private final Config config;
    private final ShardState state;
    private final Set<TimedChannel> connections = ConcurrentHashMap.newKeySet();
    private final AtomicInteger unadmitted = new AtomicInteger();
    private final Object saving = new Object();
    private final Thread acceptor;
    private volatile boolean closed;

    private ParameterServer(ServerSocketChannel listener, byte[] token, int index, long fingerprint, Config config, ShardState state) {
        this.listener = listener;
        this.token = token.clone();
        this.index = index;
        this.fingerprint = fingerprint;
        this.config = config;
        this.state = state;
        this.acceptor = new Thread(this::acceptLoop, "fluxion-ps" + index + "-accept");
        acceptor.setDaemon(true);
    }

    /**
     * Starts server index of layout on address (port 0 picks a free one), with its shard cut from params (the
     * initial model, the same on every server), or resumed from config's checkpoint folder when it holds one.
     */
    public static ParameterServer start(InetSocketAddress address, byte[] token, ShardLayout layout, int index, List<? extends Tensor> params,
                                        Function<List<Tensor>, Optimizer<?, ?>> optimizer, Config config) throws IOException {
        if (index < 0 || index >= layout.servers()) throw new IllegalArgumentException("ParameterServer: index " + index + " is not in [0, " + layout.servers() + ")");
        if (token == null || token.length == 0) throw new IllegalArgumentException("ParameterServer: a token is required (workers must prove they belong to the job)");
        ShardState state = new ShardState(Shards.gather(layout, index, params), config.consistency(), config.workers(), optimizer, config.workerTimeout());
        if (config.checkpointDir() != null) {
            Optional<TrainingCheckpoint> saved = CheckpointDir.loadLatest(config.checkpointDir());
            if (saved.isPresent()) {
                state.restore(saved.get(), layout.fingerprint());
                LOG.info("parameter server " + index + ": resumed from " + config.checkpointDir() + " at " + state.applied() + " updates");
            }
        }
        ServerSocketChannel ch = ServerSocketChannel.open();
        try {
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ch.bind(address, 128);
        } catch (IOException e) {
            ch.close();
            throw new IOException("parameter server " + index + ": cannot listen on " + address + " (" + e.getMessage() + ")", e);
        }
        ParameterServer s = new ParameterServer(ch, token, index, layout.fingerprint(), config, state);
        s.acceptor.start();
        return s;
    }

    public int port() {
        try { return ((InetSocketAddress) listener.getLocalAddress()).getPort(); } catch (IOException e) { throw new UncheckedIOException(e); }
    }

    public InetSocketAddress address() {
        try { return (InetSocketAddress) listener.getLocalAddress(); } catch (IOException e) { throw new UncheckedIOException(e); }
    }

    /** The workers connected and not dropped. */
    public List<Integer> liveWorkers() { return state.liveWorkers(); }

    /** Every worker's clock (gradients pushed), including workers that left. */
    public Map<Integer, Long> clocks() { return state.clocks(); }

    /** BSP: steps applied; SSP/ASP: pushes applied. */
    public long applied() { return state.applied(); }

    /** Saves the state now into the checkpoint folder (atomically: the previous checkpoint stays valid until the rename). */
    public Path checkpoint() throws IOException {
        if (config.checkpointDir() == null) throw new IllegalStateException("parameter server " + index + ": no checkpoint folder configured");
        synchronized (saving) {
            TrainingCheckpoint c = state.snapshot(fingerprint);
            try {
                return CheckpointDir.save(config.checkpointDir(), c);
            } finally {
                c.closeTensors();
            }
        }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel ch = listener.accept();
                if (unadmitted.incrementAndGet() > MAX_UNADMITTED) {
                    unadmitted.decrementAndGet();
                    ch.close();
                    LOG.warning("parameter server " + index + ": refused a connection, " + MAX_UNADMITTED + " are already waiting to say hello");
                    continue;
                }
                Thread t = new Thread(() -> serve(ch), "fluxion-ps" + index + "-worker");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                if (!closed) LOG.warning("parameter server " + index + ": accept failed: " + e);
            }
        }
    }

    private void serve(SocketChannel raw) {
        int worker = -1;
        String why = "connection closed";
        boolean counted = true;
        try (TimedChannel ch = new TimedChannel(raw, "worker at " + remote(raw))) {
            connections.add(ch);
            try {
                ByteBuffer hello = Wire.read(ch, MAX_HELLO, Deadline.after(HELLO_WITHIN));
                unadmitted.decrementAndGet();
                counted = false;
                worker = admit(ch, hello);
                if (worker < 0) return;
                long limit = maxFrame(state.size());
                while (!closed) {
                    ByteBuffer req = Wire.read(ch, limit, Deadline.never());
                    byte op = req.get();
                    if (op == BYE) { why = "said goodbye"; return; }
                    ByteBuffer reply;
                    try {
                        reply = switch (op) {
                            case PUSH -> push(worker, req);
                            case PULL -> pull(worker, req);
                            default -> message(ERROR, "unknown op " + op);
                        };
                    } catch (ShardState.Refused | IllegalArgumentException e) {
                        reply = message(ERROR, "parameter server " + index + ": " + e.getMessage());
                    }
                    ch.writeFully(reply, Deadline.after(config.timeout()));
                }
            } finally {
                connections.remove(ch);
            }
        } catch (EOFException e) {
            why = "disconnected";
        } catch (IOException | RuntimeException e) {
            why = e.toString();
            if (!closed) LOG.fine("parameter server " + index + ": dropped worker " + worker + ": " + e);
        } finally {
            if (counted) unadmitted.decrementAndGet();
            if (worker >= 0) state.leave(worker, why);
        }
    }

    /** Checks the hello; returns the worker's id, or -1 after answering DENIED. */
    private int admit(TimedChannel ch, ByteBuffer hello) throws IOException {
        String refusal = null;
        int worker = -1;
        try {
            if (hello.remaining() < 7 || hello.get() != HELLO || hello.getInt() != MAGIC) refusal = "not a Fluxion parameter server client";
            else if (hello.getShort() != VERSION) refusal = "protocol version mismatch (server speaks " + VERSION + ")";
            else if (!MessageDigest.isEqual(Wire.bytes(hello, MAX_TOKEN, "token"), token)) refusal = "wrong token: this server belongs to another job";
            else if (hello.remaining() < 16) refusal = "truncated hello";
            else {
                worker = hello.getInt();
                int server = hello.getInt();
                long fp = hello.getLong();
                if (server != index) refusal = "this is server " + index + ", not " + server;
                else if (fp != fingerprint) refusal = "the worker's model has another layout (fingerprint " + fp + ", server " + fingerprint + ")";
                else if (worker < 0) refusal = "worker id " + worker + " is negative";
            }
        } catch (IllegalArgumentException e) {
            refusal = e.getMessage();
        }
        long start = 0;
        if (refusal == null) {
            try { start = state.join(worker); } catch (ShardState.Refused e) { refusal = e.getMessage(); }
        }
        if (refusal != null) {
            LOG.warning("parameter server " + index + ": refused " + ch.peer() + ": " + refusal);
            ch.writeFully(message(DENIED, refusal), Deadline.after(Duration.ofSeconds(2)));
            return -1;
        }
        ch.writeFully(frame(OK, 16).putLong(start).putLong(state.size()).flip(), Deadline.after(config.timeout()));
        return worker;
    }

    private ByteBuffer push(int worker, ByteBuffer req) throws IOException {
        if (req.remaining() < 12) throw new IllegalArgumentException("truncated push");
        long clock = req.getLong();
        int segments = req.getInt();
        int n = state.size();
        if (segments < 0 || segments > n) throw new IllegalArgumentException("push of " + segments + " segments to a shard of " + n);
        float[] grad = new float[n];
        for (int s = 0; s < segments; s++) {
            if (req.remaining() < 8) throw new IllegalArgumentException("truncated push segment " + s);
            int at = req.getInt(), len = req.getInt();
            if (at < 0 || len < 0 || (long) at + len > n) throw new IllegalArgumentException("push segment [" + at + ", +" + len + ") outside a shard of " + n);
            Wire.floats(req, grad, at, len);
        }
        state.push(worker, clock, grad);
        if (config.checkpointDir() != null && config.checkpointEvery() > 0 && state.applied() % config.checkpointEvery() == 0 && state.applied() > 0)
            checkpoint();
        return frame(OK, 0).flip();
    }

    private ByteBuffer pull(int worker, ByteBuffer req) {
        if (req.remaining() < 8) throw new IllegalArgumentException("truncated pull");
        long clock = req.getLong();
        ShardState.Pulled p = state.pull(worker, clock, Deadline.after(config.timeout()));
        ByteBuffer b = frame(OK, 12 + 4 * p.values().length).putLong(p.includedClock()).putInt(p.values().length);
        b.asFloatBuffer().put(p.values());
        return b.position(b.position() + 4 * p.values().length).flip();
    }

    private static String remote(SocketChannel ch) {
        try { return String.valueOf(ch.getRemoteAddress()); } catch (IOException e) { return "?"; }
    }

    /** Stops accepting and disconnects every worker (a crash, as far as workers can tell). */
    @Override public void close() {
        closed = true;
        state.close();
        try { listener.close(); } catch (IOException ignored) { }
        for (TimedChannel c : connections) c.close();
    }
}
