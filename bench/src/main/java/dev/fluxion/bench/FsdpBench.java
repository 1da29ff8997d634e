package dev.fluxion.bench;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.DistributedDataParallel;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.parallel.Work;
import dev.fluxion.parallel.fsdp.FsdpConfig;
import dev.fluxion.parallel.fsdp.FullyShardedDataParallel;
import dev.fluxion.parallel.fsdp.ShardingStrategy;
import dev.fluxion.parallel.fsdp.WrapPolicy;
import dev.fluxion.parallel.store.TcpStore;
import dev.fluxion.parallel.store.TcpStoreServer;
import dev.fluxion.parallel.tcp.TcpProcessGroup;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.cpu.CpuMemory;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * FSDP against DDP on the same GPT (AdamW, float32): for 1, 2 and 4 ranks (threads of this JVM, each with
 * its own TCP sockets on 127.0.0.1), per rank: bytes of parameters + gradients + optimizer state that live
 * between steps, the pool's peak of live tensor bytes during the measured steps above what was live before
 * the run (shared by the ranks of the JVM, so divided by their number; it includes the state and the
 * activations), time per step, and bytes each rank sends per step (counted from the collectives'
 * ring schedules: all-gather and reduce-scatter send (n-1) blocks, all-reduce 2(n-1)/n of the tensor)
 * next to the formula: 3 x parameter bytes x (n-1)/n for FULL_SHARD, 2 x (n-1)/n for DDP and NO_SHARD.
 *
 * <pre>
 * mvn -B -q -pl bench -am package -DskipTests
 * java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.fluxion.bench.FsdpBench [steps]
 * </pre>
 */
public final class FsdpBench {
    static final Gpt.Config CONFIG = new Gpt.Config(256, 32, 4, 4, 256, 0.0);   // parameters outweigh activations, as in large-model training
    static final int BATCH = 2;

    private FsdpBench() {}

    record Row(String mode, int ranks, long stateBytes, long peakBytes, double msPerStep, long sentPerStep, double formula) {}

    public static void main(String[] args) throws Exception {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        long paramBytes = new Gpt(CONFIG, Init.seed(1)).parameterCount() * 4;
        List<Row> rows = new ArrayList<>();
        for (int n : new int[] {1, 2, 4})
            for (String mode : new String[] {"DDP", "FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD"}) rows.add(run(mode, n, steps, paramBytes));
        System.out.printf("GPT %s: %,d parameters (%.2f MiB float32), AdamW, batch %d x %d per rank, %d steps after 2 warm-up%n",
                CONFIG, paramBytes / 4, paramBytes / 1048576.0, BATCH, CONFIG.context(), steps);
        System.out.printf("%-14s %5s %16s %10s %16s %10s %18s %14s %8s%n", "mode", "ranks", "state MiB/rank", "vs DDP", "peak MiB/rank", "ms/step",
                "sent MiB/rank/step", "formula MiB", "ratio");
        for (Row r : rows) {
            Row ddp = rows.stream().filter(x -> x.mode().equals("DDP") && x.ranks() == r.ranks()).findFirst().orElseThrow();
            System.out.printf("%-14s %5d %16.3f %9.2fx %16.2f %10.1f %18.3f %14.3f %8s%n", r.mode(), r.ranks(), r.stateBytes() / 1048576.0,
                    (double) r.stateBytes() / ddp.stateBytes(), r.peakBytes() / 1048576.0, r.msPerStep(), r.sentPerStep() / 1048576.0, r.formula() / 1048576.0,
                    r.formula() == 0 ? "-" : String.format("%.3f", r.sentPerStep() / r.formula()));
        }
    }

    static Row run(String mode, int n, int steps, long paramBytes) throws Exception {
        byte[] token = "bench".getBytes();
        AtomicLong sent = new AtomicLong(), state = new AtomicLong(), nanos = new AtomicLong();
        long peak;
        System.gc();
        CpuMemory.reclaim();                       // the previous run's tensors, so that they do not count here
        long base = CpuMemory.stats().inUse();
        try (TcpStoreServer server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), token)) {
            ExecutorService pool = Executors.newFixedThreadPool(n);
            List<Future<?>> fs = new ArrayList<>();
            java.util.concurrent.CyclicBarrier ready = new java.util.concurrent.CyclicBarrier(n + 1), done = new java.util.concurrent.CyclicBarrier(n + 1);
            for (int r = 0; r < n; r++) {
                int rank = r;
                fs.add(pool.submit(() -> {
                    Duration timeout = Duration.ofSeconds(120);
                    try (TcpStore store = TcpStore.connect("127.0.0.1", server.port(), token, timeout, "rank " + rank)) {
                        ProcessGroup real = TcpProcessGroup.create(store, rank, n, TcpProcessGroup.Options.DEFAULT.withTimeout(timeout));
                        Counting pg = new Counting(real);
                        Gpt model = new Gpt(CONFIG, Init.seed(1));
                        Module trained;
                        AdamW opt;
                        FullyShardedDataParallel fsdp = null;
                        if (mode.equals("DDP")) {
                            trained = n == 1 ? model : new DistributedDataParallel(model, pg);
                            opt = new AdamW(model.parameters(), AdamW.Config.DEFAULT);
                        } else {
                            fsdp = FullyShardedDataParallel.fullyShard(model, pg, WrapPolicy.transformerBlocks(),
                                    FsdpConfig.DEFAULT.withStrategy(ShardingStrategy.valueOf(mode)));
                            trained = model;
                            opt = new AdamW(fsdp.parameters(), AdamW.Config.DEFAULT);
                        }
                        Generator g = new Generator(10 + rank);
                        for (int s = 0; s < 2 + steps; s++) {
                            if (s == 2) {
                                pg.barrier().waitFor();
                                pg.bytes.set(0);
                                ready.await();   // the main thread resets the pool's peak between the barriers
                                ready.await();
                            }
                            long t0 = System.nanoTime();
                            try (var scope = Scope.open()) {
                                Tensor ids = Tensor.randint(g, 0, CONFIG.vocab(), BATCH, CONFIG.context() + 1);
                                Tensor loss = Losses.crossEntropy(trained.forward(ids.narrow(1, 0, CONFIG.context()).contiguous()),
                                        ids.narrow(1, 1, CONFIG.context()).contiguous());
                                opt.zeroGrad();
                                loss.backward();
                                opt.step();
                            }
                            if (s >= 2 && rank == 0) nanos.addAndGet(System.nanoTime() - t0);
                        }
                        if (rank == 0) {
                            sent.set(pg.bytes.get() / steps);
                            long b = 0;
                            for (Tensor p : opt.params()) b += bytes(p) + (p.grad() == null ? 0 : bytes(p.grad()));
                            for (var e : opt.stateDict().entrySet()) if (e.getKey().startsWith("state.")) b += bytes(e.getValue());
                            state.set(b);
                        }
                        done.await();
                        real.close();
                    }
                    return null;
                }));
            }
            ready.await();
            System.gc();
            CpuMemory.reclaim();                   // warm-up garbage (the whole model each rank built before sharding it)
            CpuMemory.resetPeak();
            ready.await();
            done.await();
            peak = CpuMemory.stats().peak() - base;
            for (Future<?> f : fs) f.get();
            pool.shutdown();
        }
        double formula = switch (mode) {
            case "FULL_SHARD" -> 3.0 * paramBytes * (n - 1) / n;
            case "SHARD_GRAD_OP" -> 2.0 * paramBytes * (n - 1) / n;
            default -> 2.0 * paramBytes * (n - 1) / n;
        };
        return new Row(mode, n, state.get(), peak / n, nanos.get() / 1e6 / steps, sent.get(), formula);
    }

    static long bytes(Tensor t) { return t.numel() * t.dtype().byteSize(); }

    /** Passes every operation to a real group and adds up what this rank sends, by the ring schedules of the TCP backend. */
    static final class Counting implements ProcessGroup {
        final ProcessGroup pg;
        final AtomicLong bytes = new AtomicLong();

        Counting(ProcessGroup pg) { this.pg = pg; }

        @Override public int rank() { return pg.rank(); }
        @Override public int size() { return pg.size(); }
        @Override public int globalRank(int r) { return pg.globalRank(r); }
        @Override public Duration timeout() { return pg.timeout(); }
        @Override public Work allReduce(Tensor t, ReduceOp op) { bytes.addAndGet(2L * (size() - 1) * bytes(t) / size()); return pg.allReduce(t, op); }
        @Override public Work broadcast(Tensor t, int root) { bytes.addAndGet(bytes(t)); return pg.broadcast(t, root); }
        @Override public Work allGather(Tensor o, Tensor i) { bytes.addAndGet((size() - 1) * bytes(i)); return pg.allGather(o, i); }
        @Override public Work reduceScatter(Tensor o, Tensor i, ReduceOp op) { bytes.addAndGet((size() - 1) * bytes(o)); return pg.reduceScatter(o, i, op); }
        @Override public Work send(Tensor t, int p) { bytes.addAndGet(bytes(t)); return pg.send(t, p); }
        @Override public Work recv(Tensor t, int p) { return pg.recv(t, p); }
        @Override public Work sendRecv(Tensor s, int sp, Tensor r, int rp) { bytes.addAndGet(bytes(s)); return pg.sendRecv(s, sp, r, rp); }
        @Override public Work barrier() { return pg.barrier(); }
        @Override public ProcessGroup newGroup(int... ranks) { return pg.newGroup(ranks); }
        @Override public void close() { pg.close(); }
        @Override public void abort() { pg.abort(); }
    }
}
