package dev.fluxion.bench;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.pipeline.Action;
import dev.fluxion.parallel.pipeline.PipelineRunner;
import dev.fluxion.parallel.pipeline.Schedule;
import dev.fluxion.parallel.pipeline.Schedules;
import dev.fluxion.parallel.pipeline.Simulator;
import dev.fluxion.parallel.store.TcpStore;
import dev.fluxion.parallel.store.TcpStoreServer;
import dev.fluxion.parallel.tcp.TcpProcessGroup;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Pipeline schedules on CPU ranks (threads of this JVM with their own TCP process groups, as the tests run
 * them): for GPipe, 1F1B, interleaved 1F1B (2 virtual stages) and ZB-H1 with m = 4, 8 and 16 micro-batches,
 * the measured bubble (1 - compute time / step time, averaged over ranks and steps) next to the simulator's
 * prediction with unit costs (F = I = W = 1) and with the costs measured in the same run, and the most
 * micro-batch activations rank 0 held. Writes a timeline PNG per schedule (measured and simulated, m = 8).
 * The model is a Gpt of 8 blocks (width 64, context 32), 2 sequences per micro-batch.
 *
 * <pre>
 * mvn -B -q -pl bench -am package -DskipTests
 * java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.fluxion.bench.PipelineHarness [ranks=4] [steps=5] [outDir=bench/target/pipeline]
 * </pre>
 *
 * With more ranks than cores, ranks compete for the CPU: compute times stretch and the measured bubble is
 * not the schedule's; read the table with the machine's core count, which it prints.
 */
public final class PipelineHarness {
    private PipelineHarness() {}

    static final Gpt.Config MODEL = new Gpt.Config(64, 32, 8, 4, 64, 0.0);
    static final int MICRO = 2;

    public static void main(String[] args) throws Exception {
        int p = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        Path out = Path.of(args.length > 2 ? args[2] : "bench/target/pipeline");
        System.out.printf("Pipeline schedules on %d CPU ranks (threads, TCP on 127.0.0.1), %d cores, load average %s; Gpt %d blocks, width %d, %d x %d tokens per micro-batch%n",
                p, Runtime.getRuntime().availableProcessors(), loadAverage(), MODEL.layers(), MODEL.width(), MICRO, MODEL.context());
        System.out.printf("%-12s %4s %12s %14s %10s %16s %10s%n", "schedule", "m", "sim (unit)", "sim (measured)", "measured", "rank-0 in flight", "step ms");
        byte[] token = "pipeline-bench".getBytes();
        try (TcpStoreServer server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), token)) {
            List<ProcessGroup> world = connect(server, token, p);
            ExecutorService pool = Executors.newFixedThreadPool(p);
            try {
                for (String name : Schedules.NAMES)
                    for (int m : new int[] {4, 8, 16}) {
                        Schedule s = Schedules.byName(name, p, m, 2);
                        List<Future<Measured>> fs = new ArrayList<>();
                        for (int r = 0; r < p; r++) {
                            ProcessGroup pg = world.get(r);
                            fs.add(pool.submit(() -> run(pg, s, steps)));
                        }
                        List<Measured> ms = new ArrayList<>();
                        for (Future<Measured> f : fs) ms.add(f.get());
                        report(s, ms, out);
                    }
            } finally {
                pool.shutdownNow();
                for (ProcessGroup g : world) g.close();
            }
        }
        System.out.println("Pictures in " + out.toAbsolutePath());
    }

    /** One rank's figures: bubble and step time averaged over the measured steps, the timeline of its fastest step. */
    record Measured(double bubble, double stepSeconds, int peakInFlight, List<Simulator.Slot> timeline) {}

    static Measured run(ProcessGroup pg, Schedule s, int steps) {
        try (PipelineRunner runner = PipelineRunner.forGpt(new Gpt(MODEL, Init.seed(1)), s, pg)) {
            int m = s.microbatches();
            Generator g = new Generator(42);
            Tensor ids = Tensor.randint(g, 0, MODEL.vocab(), m * MICRO, MODEL.context()), tg = Tensor.randint(g, 0, MODEL.vocab(), m * MICRO, MODEL.context());
            double bubble = 0, time = 0, best = Double.MAX_VALUE;
            List<Simulator.Slot> timeline = List.of();
            for (int step = -1; step < steps; step++) {               // step -1 warms up
                for (var prm : runner.parameters()) prm.setGrad(null);
                pg.barrier().waitFor();
                runner.step(ids.chunk(m, 0), tg.chunk(m, 0));
                if (step >= 0) {
                    bubble += 1 - runner.lastComputeSeconds() / runner.lastStepSeconds();
                    time += runner.lastStepSeconds();
                    if (runner.lastStepSeconds() < best) { best = runner.lastStepSeconds(); timeline = runner.lastTimeline(); }   // the least disturbed step
                }
            }
            return new Measured(bubble / steps, time / steps, runner.lastPeakInFlight(), timeline);
        }
    }

    static void report(Schedule s, List<Measured> ms, Path out) throws Exception {
        double bubble = 0, step = 0;
        List<Simulator.Slot> all = new ArrayList<>();
        for (Measured m : ms) { bubble += m.bubble() / ms.size(); step = Math.max(step, m.stepSeconds()); all.addAll(m.timeline()); }
        var unit = Simulator.simulate(s, Simulator.Costs.UNIT);
        var measuredCosts = Simulator.simulate(s, costs(s, all));
        System.out.printf("%-12s %4d %12.3f %14.3f %10.3f %16d %10.1f%n", s.name(), s.microbatches(), unit.bubbleFraction(), measuredCosts.bubbleFraction(),
                bubble, ms.get(0).peakInFlight(), step * 1e3);
        if (s.microbatches() == 8) {
            TimelinePicture.write(out.resolve(s.name() + "-measured.png"), s.name() + ", p=" + s.ranks() + ", m=8: measured (each rank's fastest step)", s.ranks(), all, "s");
            TimelinePicture.write(out.resolve(s.name() + "-simulated.png"), s.name() + ", p=" + s.ranks() + ", m=8: simulated, F = I = W = 1", s.ranks(), unit.timeline(), "time units");
        }
    }

    /** Mean measured times of F, I and W (a whole B split evenly) for one rank's share of the model. */
    static Simulator.Costs costs(Schedule s, List<Simulator.Slot> slots) {
        double[] sum = new double[Action.Kind.values().length];
        int[] n = new int[sum.length];
        for (Simulator.Slot x : slots) { sum[x.action().kind().ordinal()] += x.end() - x.start(); n[x.action().kind().ordinal()]++; }
        double v = s.stagesPerRank();
        double f = mean(sum, n, Action.Kind.FORWARD) * v;
        double b = mean(sum, n, Action.Kind.BACKWARD) * v, i = mean(sum, n, Action.Kind.BACKWARD_INPUT) * v, w = mean(sum, n, Action.Kind.BACKWARD_WEIGHT) * v;
        return n[Action.Kind.BACKWARD.ordinal()] > 0 ? new Simulator.Costs(f, b / 2, b / 2, 0, 0) : new Simulator.Costs(f, i, w, 0, 0);
    }

    static double mean(double[] sum, int[] n, Action.Kind k) { return n[k.ordinal()] == 0 ? 0 : sum[k.ordinal()] / n[k.ordinal()]; }

    static List<ProcessGroup> connect(TcpStoreServer server, byte[] token, int p) throws Exception {
        Duration timeout = Duration.ofSeconds(120);
        ProcessGroup[] made = new ProcessGroup[p];
        List<Thread> ts = new ArrayList<>();
        for (int r = 0; r < p; r++) {
            int rank = r;
            Thread t = new Thread(() -> {
                TcpStore store = TcpStore.connect("127.0.0.1", server.port(), token, timeout, "rank " + rank);
                made[rank] = TcpProcessGroup.create(store, rank, p, TcpProcessGroup.Options.DEFAULT.withTimeout(timeout));
            });
            t.start();
            ts.add(t);
        }
        for (Thread t : ts) t.join();
        return List.of(made);
    }

    static String loadAverage() {
        try {
            String[] f = java.nio.file.Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (Exception e) {
            return "unknown";
        }
    }
}
