package dev.fluxion.parallel;

import dev.fluxion.parallel.store.TcpStore;
import dev.fluxion.parallel.store.TcpStoreServer;
import dev.fluxion.parallel.tcp.TcpProcessGroup;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** n ranks as threads of this JVM, each with its own store connection and TCP process group over 127.0.0.1. */
public final class LocalCluster {
    private LocalCluster() {}

    public interface RankFn<T> { T run(ProcessGroup pg) throws Exception; }

    /** Result of one rank: its value or its failure, and when it ended (nanos since the start). */
    public record Outcome<T>(T value, Throwable error, long nanos) {}

    /** Runs fn on every rank; rethrows the first failure; closes every group. */
    public static <T> List<T> run(int n, Duration timeout, RankFn<T> fn) throws Exception {
        List<Outcome<T>> out = runAll(n, timeout, fn);
        List<T> values = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            Throwable e = out.get(r).error();
            if (e != null) throw new AssertionError("rank " + r + " failed: " + e, e);
            values.add(out.get(r).value());
        }
        return values;
    }

    /** Runs fn on every rank and returns every outcome, failures included. */
    public static <T> List<Outcome<T>> runAll(int n, Duration timeout, RankFn<T> fn) throws Exception {
        byte[] token = "test-token".getBytes();
        try (TcpStoreServer server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), token)) {
            int port = server.port();
            ExecutorService pool = Executors.newFixedThreadPool(n);
            long start = System.nanoTime();
            try {
                List<Future<Outcome<T>>> fs = new ArrayList<>();
                for (int r = 0; r < n; r++) {
                    int rank = r;
                    fs.add(pool.submit(() -> {
                        ProcessGroup pg = null;
                        try (TcpStore store = TcpStore.connect("127.0.0.1", port, token, timeout, "rank " + rank)) {
                            pg = TcpProcessGroup.create(store, rank, n, TcpProcessGroup.Options.DEFAULT.withTimeout(timeout));
                            T v = fn.run(pg);
                            long t = System.nanoTime() - start;
                            pg.close();
                            return new Outcome<>(v, null, t);
                        } catch (Throwable e) {
                            if (pg != null) pg.abort();
                            return new Outcome<T>(null, e, System.nanoTime() - start);
                        }
                    }));
                }
                List<Outcome<T>> out = new ArrayList<>();
                for (Future<Outcome<T>> f : fs) out.add(f.get(timeout.toMillis() * 3 + 20_000, TimeUnit.MILLISECONDS));
                return out;
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
