package dev.fluxion.bench;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.store.TcpStore;
import dev.fluxion.parallel.store.TcpStoreServer;
import dev.fluxion.parallel.tcp.TcpProcessGroup;
import dev.fluxion.parallel.tensor.CommCounter;
import dev.fluxion.parallel.tensor.TensorParallel;
import dev.fluxion.parallel.tensor.TpContext;
import dev.fluxion.parallel.tensor.VocabParallelCrossEntropy;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

/**
 * Tensor parallelism on this machine: a CharGpt-sized Gpt trained with AdamW at TP = 1, 2 and 4 (ranks are
 * threads of this JVM with their own sockets on 127.0.0.1, as the tests run them), with sequence parallelism
 * off and on. Prints, per configuration, rank 0's parameter bytes (all of them, and of the split layers
 * against their single-process size), the collectives of one step and their payload against Megatron's count
 * (one all-reduce of (B, T, C) forward and one backward per attention and per MLP block, plus the vocab-parallel
 * embedding's forward and the head's input gradient; under sequence parallelism each becomes an all-gather
 * plus a reduce-scatter of the same volume), the bytes a ring sends per rank, and the median step time.
 *
 * <pre>
 * mvn -B -q -pl bench -am package -DskipTests
 * java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.fluxion.bench.TensorParallelHarness [steps]
 * </pre>
 */
public final class TensorParallelHarness {
    private TensorParallelHarness() {}

    static final Gpt.Config CONFIG = new Gpt.Config(256, 64, 3, 4, 128, 0.0);   // CharGpt's defaults
    static final int B = 8;

    /** One configuration's figures, from rank 0. */
    record Row(int tp, boolean sp, long paramBytes, long splitBytes, long splitFullBytes, long[] calls, long[] bytes, double ringBytes, double msPerStep) {}

    public static void main(String[] args) throws Exception {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        List<Row> rows = new ArrayList<>();
        for (int tp : new int[] {1, 2, 4})
            for (boolean sp : tp == 1 ? new boolean[] {false} : new boolean[] {false, true}) rows.add(run(tp, sp, steps));
        print(rows, steps);
    }

    static Row run(int tp, boolean sp, int steps) throws Exception {
        return ranks(tp, pg -> {
            Init init = Init.seed(1);
            Gpt model = new Gpt(CONFIG, init);
            var fullParams = model.namedParameters();
            TensorParallel.gptPlan(CONFIG).apply(model, new TpContext(pg, sp, init.generator()));
            long split = 0, splitFull = 0;
            var shards = TensorParallel.shards(model);
            for (var e : model.namedParameters().entrySet())
                if (shards.containsKey(e.getKey())) {
                    split += e.getValue().numel() * 4;
                    splitFull += fullParams.get(e.getKey()).numel() * 4;
                }
            AdamW opt = new AdamW(model.parameters(), AdamW.Config.DEFAULT);
            Generator data = new Generator(2);
            double[] ms = new double[steps];
            long[] calls = new long[3], bytes = new long[3];
            for (int s = -1; s < steps; s++) {                                   // step -1 warms up
                try (var scope = Scope.open()) {
                    Tensor ids = Tensor.randint(data, 0, CONFIG.vocab(), B, CONFIG.context() + 1);
                    Tensor x = ids.narrow(1, 0, CONFIG.context()).contiguous(), y = ids.narrow(1, 1, CONFIG.context()).contiguous();
                    CommCounter.reset();
                    long t0 = System.nanoTime();
                    Tensor logits = model.forward(x);
                    Tensor loss = tp == 1 ? Losses.crossEntropy(logits, y) : VocabParallelCrossEntropy.apply(logits, y, pg);
                    opt.zeroGrad();
                    loss.backward();
                    opt.step();
                    loss.item();
                    if (s >= 0) ms[s] = (System.nanoTime() - t0) / 1e6;
                }
            }
            for (CommCounter.Kind k : CommCounter.Kind.values()) {
                calls[k.ordinal()] = CommCounter.get(k).calls();
                bytes[k.ordinal()] = CommCounter.get(k).bytes();
            }
            Arrays.sort(ms);
            return new Row(tp, sp, TensorParallel.parameterBytes(model), split, splitFull, calls, bytes, CommCounter.ringBytesPerRank(tp), ms[steps / 2]);
        });
    }

    /** Megatron's count for one step: 2 all-reduces of (B, T, C) per block and direction, plus the embedding's forward and the head's backward. */
    static long megatronCalls() { return 4L * CONFIG.layers() + 2; }

    static long activationBytes() { return (long) B * CONFIG.context() * CONFIG.width() * 4; }

    static void print(List<Row> rows, int steps) {
        System.out.printf("Tensor parallelism: Gpt %s, batch %d, AdamW; ranks are threads on %d cores (load average %s); median of %d steps%n",
                CONFIG, B, Runtime.getRuntime().availableProcessors(), loadAverage(), steps);
        System.out.printf("Megatron's count per step: %d all-reduces of (B, T, C) = %,d bytes each (plus 3 all-reduces of B*T floats in the loss)%n%n",
                megatronCalls(), activationBytes());
        System.out.println("| TP | SP | params/rank (bytes) | split layers/rank vs full | all-reduce calls (bytes) | all-gather calls (bytes) | reduce-scatter calls (bytes) | Megatron all-reduce bytes | ring bytes sent/rank | ms/step |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|");
        for (Row r : rows) {
            long mega = r.tp() == 1 ? 0 : megatronCalls() * activationBytes();
            System.out.printf("| %d | %s | %,d | %,d / %,d = 1/%.2f | %d (%,d) | %d (%,d) | %d (%,d) | %,d | %,.0f | %.0f |%n", r.tp(), r.sp() ? "on" : "off",
                    r.paramBytes(), r.splitBytes(), r.splitFullBytes(), r.splitFullBytes() / (double) Math.max(1, r.splitBytes()),
                    r.calls()[0], r.bytes()[0], r.calls()[1], r.bytes()[1], r.calls()[2], r.bytes()[2], mega, r.ringBytes(), r.msPerStep());
        }
    }

    /** Runs fn on n thread-ranks with real sockets and returns rank 0's result. */
    static <T> T ranks(int n, Function<ProcessGroup, T> fn) throws Exception {
        byte[] token = "tp-harness".getBytes();
        Duration timeout = Duration.ofSeconds(300);
        try (TcpStoreServer server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), token)) {
            ExecutorService pool = Executors.newFixedThreadPool(n);
            try {
                List<Future<T>> fs = new ArrayList<>();
                for (int r = 0; r < n; r++) {
                    int rank = r;
                    fs.add(pool.submit(() -> {
                        try (TcpStore store = TcpStore.connect("127.0.0.1", server.port(), token, timeout, "rank " + rank);
                             ProcessGroup pg = TcpProcessGroup.create(store, rank, n, TcpProcessGroup.Options.DEFAULT.withTimeout(timeout))) {
                            return fn.apply(pg);
                        }
                    }));
                }
                T first = null;
                for (int r = 0; r < n; r++) { T v = fs.get(r).get(); if (r == 0) first = v; }
                return first;
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+")[0];
        } catch (Exception e) {
            return "unknown";
        }
    }
}
