package dev.fluxion.parallel.pipeline;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.optim.SGD;
import dev.fluxion.parallel.DeviceMesh;
import dev.fluxion.parallel.DistributedException;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** A Gpt cut into stages and trained by each schedule equals one process training the whole batch (issue: within 1e-5). */
class PipelineRunnerTest {
    static final Duration TIMEOUT = Duration.ofSeconds(30);
    static final Gpt.Config TINY = new Gpt.Config(16, 8, 4, 2, 16, 0.0);
    static final int BATCH = 8, T = 8, STEPS = 3;

    static Gpt model() { return new Gpt(TINY, Init.seed(7)); }

    /** Step k's batch: ids and next-token targets (B, T) int64. */
    static Tensor[] batch(int step) {
        Tensor ids = Tensor.randint(new Generator(100 + step), 0, TINY.vocab(), BATCH, T);
        Tensor targets = Tensor.randint(new Generator(200 + step), 0, TINY.vocab(), BATCH, T);
        return new Tensor[] {ids, targets};
    }

    static SGD sgd(List<Parameter> params) { return new SGD(new ArrayList<>(params), SGD.Config.DEFAULT.withLr(0.1).withMomentum(0.9)); }

    /** Losses per step, gradients after the first step, parameters after the last, by name. */
    record Run(List<Double> losses, Map<String, float[]> firstGrads, Map<String, float[]> params) {}

    static Run singleProcess() {
        Gpt gpt = model();
        SGD opt = sgd(gpt.parameters());
        List<Double> losses = new ArrayList<>();
        Map<String, float[]> grads = new HashMap<>();
        for (int step = 0; step < STEPS; step++) {
            Tensor[] b = batch(step);
            opt.zeroGrad();
            Tensor loss = Losses.crossEntropy(gpt.forward(b[0]), b[1]);
            loss.backward();
            losses.add(loss.item());
            if (step == 0) gpt.namedParameters().forEach((n, p) -> grads.put(n, p.grad().toFloatArray()));
            opt.step();
        }
        Map<String, float[]> params = new HashMap<>();
        gpt.namedParameters().forEach((n, p) -> params.put(n, p.toFloatArray()));
        return new Run(losses, grads, params);
    }

    static Run pipelined(Schedule s) throws Exception {
        int m = s.microbatches();
        List<Run> perRank = LocalCluster.run(s.ranks(), TIMEOUT, pg -> {
            try (PipelineRunner runner = PipelineRunner.forGpt(model(), s, pg)) {
                SGD opt = sgd(runner.parameters());
                List<Double> losses = new ArrayList<>();
                Map<String, float[]> grads = new HashMap<>();
                for (int step = 0; step < STEPS; step++) {
                    Tensor[] b = batch(step);
                    opt.zeroGrad();
                    losses.add(runner.step(b[0].chunk(m, 0), b[1].chunk(m, 0)));
                    if (step == 0) named(runner).forEach((n, p) -> grads.put(n, p.grad().toFloatArray()));
                    opt.step();
                }
                Map<String, float[]> params = new HashMap<>();
                named(runner).forEach((n, p) -> params.put(n, p.toFloatArray()));
                return new Run(losses, grads, params);
            }
        });
        Map<String, float[]> grads = new HashMap<>(), params = new HashMap<>();
        for (Run r : perRank) { grads.putAll(r.firstGrads()); params.putAll(r.params()); }
        return new Run(perRank.get(s.rankOf(s.stages() - 1)).losses(), grads, params);
    }

    static Map<String, Parameter> named(PipelineRunner runner) {
        Map<String, Parameter> out = new HashMap<>();
        for (Module stage : runner.stages().values()) out.putAll(stage.namedParameters());
        return out;
    }

    static void assertClose(Map<String, float[]> want, Map<String, float[]> got, String what) {
        assertEquals(want.keySet(), got.keySet(), what + ": the stages hold every parameter once, under the model's names");
        for (String n : want.keySet())
            for (int k = 0; k < want.get(n).length; k++)
                assertEquals(want.get(n)[k], got.get(n)[k], 1e-5, what + " " + n + "[" + k + "]");
    }

    @ParameterizedTest(name = "{0} on {1} ranks, {2} micro-batches")
    @CsvSource({"gpipe, 2, 4", "1f1b, 2, 4", "1f1b, 4, 8", "interleaved, 2, 4", "zb-h1, 2, 4", "zb-h1, 4, 4"})
    void trainsLikeOneProcess(String name, int p, int m) throws Exception {
        Run want = singleProcess();
        Run got = pipelined(Schedules.byName(name, p, m, 2));
        for (int step = 0; step < STEPS; step++) assertEquals(want.losses().get(step), got.losses().get(step), 1e-5, name + " loss at step " + step);
        assertClose(want.firstGrads(), got.firstGrads(), name + " gradient");
        assertClose(want.params(), got.params(), name + " parameter after " + STEPS + " steps");
    }

    @Test void aScheduleReadFromCsvRunsToo() throws Exception {
        // a user's schedule, as a file would hold it
        String csv = Schedules.zeroBubbleH1(2, 4).toCsv();
        Schedule s = Schedule.fromCsv("user.csv", csv, 2, 2, 4);
        Run want = singleProcess(), got = pipelined(s);
        assertClose(want.params(), got.params(), "csv schedule parameter");
    }

    @Test void oneFOneBHoldsPMinusRankMicroBatchesWhereGpipeHoldsM() throws Exception {
        int p = 2, m = 8;
        Map<String, List<long[]>> peaks = new HashMap<>();
        for (String name : List.of("1f1b", "gpipe")) {
            Schedule s = Schedules.byName(name, p, m, 1);
            peaks.put(name, LocalCluster.run(p, TIMEOUT, pg -> {
                try (PipelineRunner runner = PipelineRunner.forGpt(model(), s, pg).measureMemory(true)) {
                    Tensor ids = Tensor.randint(new Generator(5), 0, TINY.vocab(), 2 * m, T), tg = Tensor.randint(new Generator(6), 0, TINY.vocab(), 2 * m, T);
                    runner.step(ids.chunk(m, 0), tg.chunk(m, 0));
                    return new long[] {runner.lastPeakInFlight(), runner.lastPeakSavedBytes()};
                }
            }));
        }
        for (int r = 0; r < p; r++) {
            assertEquals(p - r, peaks.get("1f1b").get(r)[0], "1f1b rank " + r);
            assertEquals(m, peaks.get("gpipe").get(r)[0], "gpipe rank " + r);
            long oneF = peaks.get("1f1b").get(r)[1], gpipe = peaks.get("gpipe").get(r)[1];
            // bytes the tape keeps: m micro-batches against p - r (parameters saved by matmul count in both)
            assertTrue(gpipe > 2.5 * oneF, "rank " + r + ": gpipe keeps " + gpipe + " bytes, 1f1b " + oneF);
        }
    }

    @Test void pipelineTimesDataParallelTrainsLikeOneProcess() throws Exception {
        Run want = singleProcess();
        int p = 2, dpSize = 2, m = 2, rows = BATCH / dpSize;
        Schedule s = Schedules.oneForwardOneBackward(p, m);
        List<Run> perRank = LocalCluster.run(p * dpSize, TIMEOUT, world -> {
            DeviceMesh mesh = DeviceMesh.of(world, new String[] {"pp", "dp"}, new int[] {p, dpSize});
            int replica = mesh.coordinate("dp");
            try (PipelineRunner runner = PipelineRunner.forGpt(model(), s, mesh.group("pp"))) {
                SGD opt = sgd(runner.parameters());
                List<Double> losses = new ArrayList<>();
                for (int step = 0; step < STEPS; step++) {
                    Tensor[] b = batch(step);
                    Tensor ids = b[0].narrow(0, replica * rows, rows), tg = b[1].narrow(0, replica * rows, rows);   // this replica's half
                    opt.zeroGrad();
                    losses.add(runner.step(ids.chunk(m, 0), tg.chunk(m, 0)));
                    runner.allReduceGradients(mesh.group("dp"));
                    opt.step();
                }
                Map<String, float[]> params = new HashMap<>();
                named(runner).forEach((n, q) -> params.put(n, q.toFloatArray()));
                return new Run(losses, Map.of(), params);
            }
        });
        Map<String, float[]> params = new HashMap<>();
        for (Run r : perRank) params.putAll(r.params());          // replicas hold equal values; any one will do
        assertClose(want.params(), params, "pp x dp parameter after " + STEPS + " steps");
        for (Run r : perRank) {                                   // and each replica's copy equals it too
            for (var e : r.params().entrySet()) assertArrayEquals(want.params().get(e.getKey()), e.getValue(), 1e-5f, e.getKey());
        }
        // the last stage's ranks (pp coordinate 1: world ranks 2 and 3) hold the two halves' losses
        for (int step = 0; step < STEPS; step++)
            assertEquals(want.losses().get(step), (perRank.get(2).losses().get(step) + perRank.get(3).losses().get(step)) / 2, 1e-5, "loss at step " + step);
    }

    @Test void theBackwardScopeMarksEachStagesLastBackwardOfTheStep() throws Exception {
        Schedule s = Schedules.interleaved(2, 2, 4);
        List<List<String>> opened = LocalCluster.run(2, TIMEOUT, pg -> {
            List<String> log = new ArrayList<>();
            try (PipelineRunner runner = PipelineRunner.forGpt(model(), s, pg)) {
                runner.backwardScope((stage, last) -> { log.add(stage + (last ? " last" : "")); return () -> log.add("closed"); });
                Tensor[] b = batch(0);
                runner.step(b[0].chunk(4, 0), b[1].chunk(4, 0));
                runner.step(b[0].chunk(4, 0), b[1].chunk(4, 0));
            }
            return log;
        });
        for (int r = 0; r < 2; r++) {
            List<String> log = opened.get(r);
            assertEquals(2 * 2 * 4 * 2, log.size(), "rank " + r + ": 2 steps x 2 stages x 4 backwards, each opened and closed: " + log);
            for (int st = r; st < 4; st += 2) {
                int stage = st;
                assertEquals(8, log.stream().filter(e -> e.startsWith(stage + "")).count(), "rank " + r + " stage " + stage);
                assertEquals(2, log.stream().filter(e -> e.equals(stage + " last")).count(), "rank " + r + " stage " + stage + ": one last backward per step");
                // the last is the stage's fourth backward of each step
                List<String> mine = log.stream().filter(e -> e.startsWith(stage + "")).toList();
                assertEquals(List.of(stage + "", stage + "", stage + "", stage + " last"), mine.subList(0, 4), "rank " + r + " stage " + stage);
            }
        }
        // zb-h1 splits backwards: a scope around whole backwards is refused
        var e = assertThrows(AssertionError.class, () -> LocalCluster.run(2, TIMEOUT, pg -> {
            try (PipelineRunner runner = PipelineRunner.forGpt(model(), Schedules.zeroBubbleH1(2, 4), pg)) {
                return runner.backwardScope((stage, last) -> () -> {});
            }
        }));
        assertTrue(e.getMessage().contains("splits backward"), e.getMessage());
    }

    /** A stage that fails on its third forward, as a rank that dies mid-schedule. */
    static final class Dying extends Module {
        private final Module inner;
        private int calls;

        Dying(Module inner) { this.inner = register("inner", inner); }

        @Override protected Tensor compute(Tensor... x) {
            if (++calls == 3) throw new IllegalStateException("stage died");
            return inner.forward(x);
        }
    }

    @Test void aRankThatDiesMakesTheOthersFailNamingIt() throws Exception {
        Schedule s = Schedules.oneForwardOneBackward(2, 4);
        var outcomes = LocalCluster.runAll(2, Duration.ofSeconds(5), pg -> {
            Gpt gpt = model();
            try (var runner = new PipelineRunner(s, pg, st -> st == 1 ? new Dying(gpt.stage(2, 4)) : gpt.stage(0, 2), Losses::crossEntropy,
                    ids -> new int[] {ids.size(0), ids.size(1), TINY.width()})) {
                Tensor[] b = batch(0);
                runner.step(b[0].chunk(4, 0), b[1].chunk(4, 0));
                return null;
            }
        });
        assertTrue(outcomes.get(1).error().getMessage().contains("stage died"), String.valueOf(outcomes.get(1).error()));
        Throwable e = outcomes.get(0).error();
        assertNotNull(e, "rank 0 must fail, not hang");
        assertInstanceOf(DistributedException.class, e);
        assertTrue(e.getMessage().contains("rank 1"), e.getMessage());
        assertTrue(outcomes.get(0).nanos() < 15e9, "failed within the timeout: " + outcomes.get(0).nanos() / 1e9 + " s");
    }
}
