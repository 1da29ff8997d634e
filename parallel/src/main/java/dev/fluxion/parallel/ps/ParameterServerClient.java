package dev.fluxion.parallel.ps;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.parallel.DistributedException;
import dev.fluxion.parallel.net.Deadline;
import dev.fluxion.parallel.net.TimedChannel;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

import static dev.fluxion.parallel.ps.Wire.*;

/**
 * A worker's side of the parameter servers: {@link #pull()} before each step writes the current parameters
 * into the model (waiting as the servers' {@link Consistency} says), {@link #push()} after backward sends the
 * gradients to the servers that hold each piece and advances this worker's clock.
 *
 * <pre>{@code
 * try (var ps = ParameterServerClient.connect(addresses, token, rank, model.parameters(), Duration.ofSeconds(60))) {
 *     ps.sparse(model.tokens().weight());        // embedding: only rows with a gradient travel
 *     for (...) { ps.pull(); loss = ...; model.zeroGrad(); loss.backward(); ps.push(); }
 * }
 * }</pre>
 *
 * Every read and write is bounded by the timeout (a pull by the timeout plus the time the server may wait);
 * a failed call throws a {@link DistributedException} that names the server, and the client is then broken.
 * For each pull, {@link #staleness()} is this worker's clock minus the clock the servers guarantee the values
 * include (under SSP(s) never more than s).
 */
public final class ParameterServerClient implements AutoCloseable {
    private final List<TimedChannel> servers = new ArrayList<>();
    private final ShardLayout layout;
    private final List<Tensor> params;
    private final Set<Tensor> sparse = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Duration timeout;
    private final int worker;
    private long clock;
    private long staleness, maxStaleness;
    private long bytesSent, bytesReceived;
    private boolean broken;

    private ParameterServerClient(ShardLayout layout, List<Tensor> params, Duration timeout, int worker) {
        this.layout = layout;
        this.params = params;
        this.timeout = timeout;
        this.worker = worker;
    }

    /**
     * Connects worker (an id unique in the job; SSP/ASP accept new ids, BSP only 0..workers-1) to every server,
     * in layout order; the clock starts where the servers say (0 for a new job, later for a worker that joins).
     */
    public static ParameterServerClient connect(List<InetSocketAddress> addresses, byte[] token, int worker, List<? extends Tensor> params,
                                                Duration timeout) {
        List<int[]> shapes = new ArrayList<>();
        for (Tensor p : params) shapes.add(p.shape());
        ShardLayout layout = ShardLayout.of(shapes, addresses.size());
        Shards.check(layout, params);
        var c = new ParameterServerClient(layout, List.copyOf(params), timeout, worker);
        try {
            for (int s = 0; s < addresses.size(); s++) {
                String who = "parameter server " + s + " at " + addresses.get(s);
                TimedChannel ch;
                try {
                    ch = TimedChannel.connect(addresses.get(s), Deadline.after(timeout), who);
                } catch (IOException e) {
                    throw new DistributedException("worker " + worker + ": cannot reach " + who + ": " + e.getMessage(), e);
                }
                c.servers.add(ch);
                byte[] t = token.clone();
                ByteBuffer hello = frame(HELLO, 4 + 2 + 4 + t.length + 16).putInt(MAGIC).putShort(VERSION).putInt(t.length).put(t)
                        .putInt(worker).putInt(s).putLong(layout.fingerprint()).flip();
                ByteBuffer reply = c.exchange(s, hello, 64, Deadline.after(timeout));
                c.clock = Math.max(c.clock, reply.getLong());
                long n = reply.getLong();
                if (n != layout.shardElements(s)) throw new DistributedException(who + " holds " + n + " elements, this worker expects " + layout.shardElements(s));
            }
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    /** Pushes only the rows of param (an embedding table, say) whose gradient is not all zero; rows left out count as zero. */
    public ParameterServerClient sparse(Tensor param) {
        boolean known = false;
        for (Tensor p : params) known |= p == param;
        if (!known) throw new IllegalArgumentException("ParameterServerClient.sparse: not one of this client's parameters");
        sparse.add(param);
        return this;
    }

    /** This worker's clock: the step it computes next (gradients pushed so far). */
    public long clock() { return clock; }

    /** The last pull's staleness: clock minus the clock up to which the values surely include every live worker's updates. */
    public long staleness() { return staleness; }

    /** The largest staleness seen. */
    public long maxStaleness() { return maxStaleness; }

    public long bytesSent() { return bytesSent; }

    public long bytesReceived() { return bytesReceived; }

    /** Fetches the parameters for the step at clock() from every server and writes them into the model. */
    public void pull() {
        float[][] shards = new float[servers.size()][];
        long included = Long.MAX_VALUE;
        Deadline d = Deadline.after(timeout.multipliedBy(2));   // the server waits up to its own timeout before it answers
        for (int s = 0; s < servers.size(); s++) {
            ByteBuffer reply = exchange(s, frame(PULL, 8).putLong(clock).flip(), maxFrame(layout.shardElements(s)), d);
            included = Math.min(included, reply.getLong());
            int n = reply.getInt();
            if (n != layout.shardElements(s)) throw fail(s, "sent " + n + " elements, expected " + layout.shardElements(s), null);
            shards[s] = new float[n];
            Wire.floats(reply, shards[s], 0, n);
        }
        staleness = Math.max(0, clock - included);
        maxStaleness = Math.max(maxStaleness, staleness);
        try (var off = Autodiff.noGrad()) {
            for (int i = 0; i < params.size(); i++) {
                Tensor p = params.get(i);
                float[] all = new float[(int) p.numel()];
                for (int s = 0; s < servers.size(); s++)
                    for (ShardLayout.Piece piece : layout.pieces(s))
                        if (piece.param() == i)
                            System.arraycopy(shards[s], (int) piece.shardOffset(), all, (int) piece.paramOffset(), (int) piece.elements());
                p.copy_(Tensor.of(all, p.shape()));
            }
        }
    }

    /** Sends every parameter's gradient (none: zero) for the step at clock(), then advances the clock. */
    public void push() {
        float[][] grads = new float[params.size()][];
        for (int i = 0; i < params.size(); i++) {
            Tensor g = params.get(i).grad();
            grads[i] = g == null ? null : g.toFloatArray();
        }
        Deadline d = Deadline.after(timeout);
        for (int s = 0; s < servers.size(); s++) {
            // segments: [shardOffset, length) runs of non-zero rows; dense pieces are one run
            List<long[]> runs = new ArrayList<>();
            long floats = 0;
            for (ShardLayout.Piece piece : layout.pieces(s)) {
                float[] g = grads[piece.param()];
                if (g == null) continue;
                if (!sparse.contains(params.get(piece.param()))) {
                    runs.add(new long[] {piece.shardOffset(), piece.paramOffset(), piece.elements()});
                    floats += piece.elements();
                    continue;
                }
                for (long r = piece.rowFrom(); r < piece.rowTo(); r++) {
                    int from = (int) (r * piece.rowLength());
                    boolean any = false;
                    for (int k = 0; k < piece.rowLength() && !any; k++) any = g[from + k] != 0;
                    if (!any) continue;
                    long at = piece.shardOffset() + (r - piece.rowFrom()) * piece.rowLength();
                    long[] last = runs.isEmpty() ? null : runs.get(runs.size() - 1);
                    if (last != null && last[0] + last[2] == at && last[1] + last[2] == from) last[2] += piece.rowLength();
                    else runs.add(new long[] {at, from, piece.rowLength()});
                    floats += piece.rowLength();
                }
            }
            ByteBuffer b = frame(PUSH, (int) (12 + 8L * runs.size() + 4 * floats)).putLong(clock).putInt(runs.size());
            for (long[] run : runs) {
                b.putInt((int) run[0]).putInt((int) run[2]);
                float[] g = null;
                // find the parameter of this run: the piece that holds its shard offset
                for (ShardLayout.Piece piece : layout.pieces(s))
                    if (run[0] >= piece.shardOffset() && run[0] < piece.shardOffset() + piece.elements()) { g = grads[piece.param()]; break; }
                b.asFloatBuffer().put(g, (int) run[1], (int) run[2]);
                b.position(b.position() + 4 * (int) run[2]);
            }
            exchange(s, b.flip(), 64, d);
        }
        clock++;
    }

    /** Sends one request and reads its reply; returns the reply's body after an OK code. */
    private ByteBuffer exchange(int s, ByteBuffer request, long replyLimit, Deadline deadline) {
        if (broken) throw new DistributedException("ParameterServerClient (worker " + worker + "): broken by an earlier failure");
        TimedChannel ch = servers.get(s);
        try {
            bytesSent += request.remaining();
            ch.writeFully(request, deadline);
            ByteBuffer reply = Wire.read(ch, Math.max(replyLimit + 8, 1 << 16), deadline);   // room for an error message
            bytesReceived += 4 + reply.limit();
            byte code = reply.get();
            if (code == OK) return reply;
            throw fail(s, Wire.text(reply), null);
        } catch (IOException e) {
            throw fail(s, e.getMessage(), e);
        }
    }

    private DistributedException fail(int s, String what, Throwable cause) {
        broken = true;
        return new DistributedException("worker " + worker + ", " + servers.get(s).peer() + ": " + what, cause);
    }

    /** Says goodbye to every server (so SSP/ASP stop waiting for this worker at once) and disconnects. */
    @Override public void close() {
        for (TimedChannel ch : servers) {
            try { ch.writeFully(frame(BYE, 0).flip(), Deadline.afterMillis(500)); } catch (IOException | RuntimeException ignored) { }
            ch.close();
        }
        servers.clear();
    }
}
