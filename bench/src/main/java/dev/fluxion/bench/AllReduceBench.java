package dev.fluxion.bench;

import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.parallel.store.TcpStore;
import dev.fluxion.parallel.store.TcpStoreServer;
import dev.fluxion.parallel.tcp.TcpProcessGroup;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

/**
 * Float32 sum all-reduce over the TCP ring on 127.0.0.1 with 2 and 4 ranks (threads of this JVM, each with
 * its own sockets, as the parallel module's tests run them). One op = every rank's all-reduce of the
 * tensor; bus bandwidth = 2(n-1)/n * bytes / time (nccl-tests' definition), for comparison with Gloo
 * (bench/python/allreduce_gloo.py).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class AllReduceBench {
    static double busBytes(int ranks, int mib) { return 2.0 * (ranks - 1) / ranks * mib * (1 << 20); }

    @State(Scope.Benchmark)
    public static class Ring {
        @Param({"2", "4"}) public int ranks;
        @Param({"1", "16", "64"}) public int sizeMib;
        TcpStoreServer server;
        final List<ProcessGroup> groups = new ArrayList<>();
        final List<Tensor> tensors = new ArrayList<>();
        final List<Thread> peers = new ArrayList<>();
        CyclicBarrier start, done;
        volatile boolean stop;

        @Setup(Level.Trial) public void setup() throws Exception {
            byte[] token = "bench".getBytes();
            server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), token);
            Duration timeout = Duration.ofSeconds(60);
            List<Thread> joiners = new ArrayList<>();
            ProcessGroup[] made = new ProcessGroup[ranks];
            for (int r = 0; r < ranks; r++) {
                int rank = r;
                Thread t = new Thread(() -> {
                    TcpStore store = TcpStore.connect("127.0.0.1", server.port(), token, timeout, "rank " + rank);
                    made[rank] = TcpProcessGroup.create(store, rank, ranks, TcpProcessGroup.Options.DEFAULT.withTimeout(timeout));
                });
                t.start();
                joiners.add(t);
            }
            for (Thread t : joiners) t.join();
            for (int r = 0; r < ranks; r++) {
                groups.add(made[r]);
                tensors.add(Tensor.ones(DType.FLOAT32, sizeMib * (1 << 20) / Float.BYTES));
            }
            start = new CyclicBarrier(ranks);
            done = new CyclicBarrier(ranks);
            for (int r = 1; r < ranks; r++) {                     // ranks 1.. follow rank 0 (the benchmark thread)
                int rank = r;
                Thread t = new Thread(() -> {
                    try {
                        while (true) {
                            start.await();
                            if (stop) return;
                            groups.get(rank).allReduce(tensors.get(rank), ReduceOp.SUM).waitFor();
                            done.await();
                        }
                    } catch (Exception e) {
                        if (!stop) throw new IllegalStateException("AllReduceBench rank " + rank + " failed", e);
                    }
                }, "allreduce-rank-" + r);
                t.setDaemon(true);
                t.start();
                peers.add(t);
            }
        }

        @TearDown(Level.Trial) public void tearDown() throws Exception {
            stop = true;
            start.await(10, TimeUnit.SECONDS);
            for (Thread t : peers) t.join(10_000);
            for (ProcessGroup g : groups) g.close();
            server.close();
        }
    }

    @Benchmark
    public int allReduce(Ring ring) throws Exception {
        ring.start.await();
        ring.groups.get(0).allReduce(ring.tensors.get(0), ReduceOp.SUM).waitFor();
        ring.done.await();
        return ring.ranks;
    }
}
