package dev.fluxion.parallel.ps;

import dev.fluxion.optim.Optimizer;
import dev.fluxion.parallel.DistributedException;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Starts a parameter server on every rank of a process group (rank r holds shard r) and tells every rank where
 * they all are, so that each rank can also be a worker: the usual layout of a {@code bin/fluxrun} job. Rank 0
 * draws a random token for the servers and shares it over the group (whose members already proved they belong
 * to the job).
 *
 * <pre>{@code
 * try (var job = ParameterServers.launch(pg, "127.0.0.1", model.parameters(), ps -> new AdamW(ps, cfg), config);
 *      var ps = job.connect(pg.rank(), model.parameters(), timeout)) { ... }
 * }</pre>
 */
public final class ParameterServers {
    private ParameterServers() {}

    /** This rank's server, every server's address in shard order, and the token workers present. */
    public record Job(ParameterServer local, List<InetSocketAddress> addresses, byte[] token) implements AutoCloseable {
        /** A worker of this job. */
        public ParameterServerClient connect(int worker, List<? extends Tensor> params, java.time.Duration timeout) {
            return ParameterServerClient.connect(addresses, token, worker, params, timeout);
        }

        /** Stops this rank's server (call it after every rank's workers are done, for example after a barrier). */
        @Override public void close() { local.close(); }
    }

    /**
     * Every rank calls it: binds a server on host (an address of this machine that the other ranks can reach;
     * port chosen freely) for shard pg.rank() of params over pg.size() servers. A checkpoint folder in config
     * gets one sub-folder per shard, "shard-R".
     */
    public static Job launch(ProcessGroup pg, String host, List<? extends Tensor> params, Function<List<Tensor>, Optimizer<?, ?>> optimizer,
                             ParameterServer.Config config) {
        List<int[]> shapes = new ArrayList<>();
        for (Tensor p : params) shapes.add(p.shape());
        ShardLayout layout = ShardLayout.of(shapes, pg.size());
        Tensor secret = Tensor.zeros(DType.INT64, 4);
        if (pg.rank() == 0) {
            byte[] b = new byte[32];
            new SecureRandom().nextBytes(b);
            ByteBuffer bb = ByteBuffer.wrap(b);
            secret = Tensor.of(new long[] {bb.getLong(), bb.getLong(), bb.getLong(), bb.getLong()}, 4);
        }
        pg.broadcast(secret, 0).waitFor();
        ByteBuffer tb = ByteBuffer.allocate(32);
        for (long v : secret.toLongArray()) tb.putLong(v);
        byte[] token = tb.array();
        ParameterServer local;
        try {
            var c = config.checkpointDir() == null ? config : config.withCheckpoints(config.checkpointDir().resolve("shard-" + pg.rank()), config.checkpointEvery());
            local = ParameterServer.start(new InetSocketAddress(InetAddress.getByName(host), 0), token, layout, pg.rank(), params, optimizer, c);
        } catch (IOException e) {
            throw new DistributedException("rank " + pg.rank() + ": cannot start its parameter server on " + host + ": " + e.getMessage(), e);
        }
        // each rank's address: length, up to 16 address bytes in two longs, port
        byte[] ip = local.address().getAddress().getAddress();
        ByteBuffer ab = ByteBuffer.allocate(16).put(ip);
        ab.flip();
        ab.limit(16);
        long[] mine = {ip.length, ab.getLong(0), ab.getLong(8), local.port()};
        Tensor all = Tensor.zeros(DType.INT64, pg.size(), 4);
        pg.allGather(all, Tensor.of(mine, 4)).waitFor();
        long[] v = all.toLongArray();
        List<InetSocketAddress> addresses = new ArrayList<>();
        for (int r = 0; r < pg.size(); r++) {
            ByteBuffer b = ByteBuffer.allocate(16).putLong(v[4 * r + 1]).putLong(v[4 * r + 2]);
            byte[] a = new byte[(int) v[4 * r]];
            System.arraycopy(b.array(), 0, a, 0, a.length);
            try {
                addresses.add(new InetSocketAddress(InetAddress.getByAddress(a), (int) v[4 * r + 3]));
            } catch (IOException e) {
                local.close();
                throw new DistributedException("rank " + r + " sent a malformed server address", e);
            }
        }
        return new Job(local, List.copyOf(addresses), token);
    }
}
