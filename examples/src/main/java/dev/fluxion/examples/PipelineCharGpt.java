package dev.fluxion.examples;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.nn.io.CheckpointDir;
import dev.fluxion.nn.io.TrainingCheckpoint;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.LrScheduler;
import dev.fluxion.parallel.DeviceMesh;
import dev.fluxion.parallel.Distributed;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.parallel.pipeline.PipelineRunner;
import dev.fluxion.parallel.pipeline.Schedules;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * CharGpt's pipeline-parallel mode ({@code --pp N}): the Gpt cut by blocks into stages over N ranks, trained
 * with a schedule from {@link Schedules} over the process group, data-parallel over the remaining
 * world / N ranks (each pipeline replica draws its own batches; stage gradients are averaged over the "dp"
 * mesh dimension).
 *
 * <pre>
 * bin/fluxrun --nproc-per-node 4 dev.fluxion.examples.CharGpt --pp 4 --schedule 1f1b --microbatches 8 --layers 4
 * </pre>
 * Options added to CharGpt's: --pp N, --schedule gpipe|1f1b|interleaved|zb-h1 (1f1b), --microbatches M (4;
 * --batch must be a multiple), --virtual V (2, interleaved's stages per rank). --layers must be at least the
 * number of stages. Each pipeline rank of replica 0 checkpoints its stages and optimizer state under
 * OUT/pp-rank-R; --resume reads them. Not in this mode: validation loss and sampling (both need the whole
 * model on one rank).
 */
final class PipelineCharGpt {
    private PipelineCharGpt() {}

    /** True when the arguments ask for pipeline parallelism. */
    static boolean wanted(String[] args) { return List.of(args).contains("--pp"); }

    static void main(String[] args) throws IOException {
        Map<String, String> own = new HashMap<>(Map.of("schedule", "1f1b", "microbatches", "4", "virtual", "2"));
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String key = args[i].startsWith("--") ? args[i].substring(2) : "";
            if (List.of("pp", "schedule", "microbatches", "virtual").contains(key) && i + 1 < args.length) own.put(key, args[++i]);
            else rest.add(args[i]);
        }
        CharGpt.Options o = CharGpt.Options.parse(rest.toArray(String[]::new));
        int ppSize = Integer.parseInt(own.get("pp")), m = Integer.parseInt(own.get("microbatches")), v = Integer.parseInt(own.get("virtual"));
        if (!Distributed.isDistributed()) throw new IllegalArgumentException("CharGpt --pp: start it with bin/fluxrun --nproc-per-node N (N a multiple of " + ppSize + ")");
        if (o.batch() % m != 0) throw new IllegalArgumentException("CharGpt --pp: --batch " + o.batch() + " is not a multiple of --microbatches " + m);
        ProcessGroup world = Distributed.initFromEnv();
        if (world.size() % ppSize != 0) throw new IllegalArgumentException("CharGpt --pp: " + world.size() + " ranks are not a multiple of --pp " + ppSize);
        DeviceMesh mesh = DeviceMesh.of(world, new String[] {"dp", "pp"}, new int[] {world.size() / ppSize, ppSize});
        int replica = mesh.coordinate("dp"), stageRank = mesh.coordinate("pp");
        boolean lead = world.rank() == 0;

        byte[] text = CharGpt.Corpus.read(o.data());
        CharGpt.Corpus train = CharGpt.Corpus.train(text);
        var config = o.modelConfig();
        Gpt model = new Gpt(config, Init.seed(o.seed()));                     // the same whole model everywhere; each rank keeps its stages
        var schedule = Schedules.byName(own.get("schedule"), ppSize, m, v);
        if (config.layers() < schedule.stages())
            throw new IllegalArgumentException("CharGpt --pp: schedule " + schedule.name() + " needs " + schedule.stages() + " stages but --layers is " + config.layers());
        PipelineRunner runner = PipelineRunner.forGpt(model, schedule, mesh.group("pp"));
        List<Parameter> params = runner.parameters();
        var opt = new AdamW(params, o.adamw());
        var lr = o.schedule(opt);
        Generator dataRng = new Generator(o.seed() + 1 + 1_000_003L * replica);   // one stream per replica, shared by its stages
        if (lead) System.out.printf("model: %,d parameters, %s; pipeline %s over %d ranks x %d replicas, %d micro-batches%n",
                model.parameterCount(), config, schedule.name(), ppSize, world.size() / ppSize, m);

        Path dir = o.out().resolve("pp-rank-" + stageRank);
        Files.createDirectories(dir);
        long start = 0;
        if (o.resume()) {
            var latest = CheckpointDir.loadLatest(dir);
            if (latest.isPresent()) {
                TrainingCheckpoint c = latest.get();
                model.loadStateDict(c.section("model"), false);                 // this rank's stages only
                opt.loadStateDict(c.section("optim"));
                lr.loadStateDict(c.section("sched"));
                dataRng.setState(c.section("rng").get("data.replica" + replica).toLongArray());
                start = c.step();
                if (lead) System.out.println("resumed at step " + start);
            }
        }
        Metrics metrics = lead ? new Metrics(o.out().resolve("metrics.csv"), start > 0) : null;
        Progress progress = new Progress(start, o.steps(), (long) o.batch() * o.context() * (world.size() / ppSize));
        for (long step = start; step < o.steps(); step++) {
            double loss;
            try (var scope = Scope.open()) {
                Tensor[] batch = train.batch(dataRng, o.batch(), o.context());
                opt.zeroGrad();
                double mine = runner.step(batch[0].chunk(m, 0), batch[1].chunk(m, 0));
                runner.allReduceGradients(mesh.group("dp"));
                clipGlobalNorm(params, mesh.group("pp"), 1.0);
                opt.step();
                lr.step();
                loss = meanLoss(mine, mesh);
            }
            if (lead) progress.update(step + 1, loss, Double.NaN);
            if (lead) metrics.append(step + 1, loss, Double.NaN, opt.lr(0), progress.tokensPerSecond());
            boolean last = step + 1 == o.steps() || step + 1 == o.stopAfter();
            if ((step + 1) % o.checkpointEvery() == 0 || last) save(dir, runner, opt, lr, dataRng, mesh, step + 1);
            if (step + 1 == o.stopAfter()) break;
        }
        if (lead) {
            metrics.close();
            boolean png = metrics.plot(o.out().resolve("loss.png"), "char-GPT, pipeline " + schedule.name()) != null;
            System.out.println("wrote " + o.out().resolve("metrics.csv") + (png ? ", loss.png" : "") + " and pp-rank-*/" + CheckpointDir.LATEST);
        }
        runner.close();
        world.close();
    }

    /** The step's loss, known on each replica's last stage: summed over the pipeline, averaged over replicas. */
    static double meanLoss(double mine, DeviceMesh mesh) {
        Tensor t = Tensor.of(new float[] {Double.isNaN(mine) ? 0f : (float) mine}, 1);
        mesh.world().allReduce(t, ReduceOp.SUM).waitFor();
        return t.item() / mesh.size("dp");
    }

    /** Clips by the norm of every stage's gradients together (each rank holds a share: sum of squares over "pp"). */
    static void clipGlobalNorm(List<Parameter> params, ProcessGroup pp, double max) {
        double sq = 0;
        for (Parameter p : params) if (p.grad() != null) { double n = p.grad().norm(2).item(); sq += n * n; }
        Tensor t = Tensor.of(new double[] {sq}, 1);
        pp.allReduce(t, ReduceOp.SUM).waitFor();
        double coef = max / (Math.sqrt(t.item()) + 1e-6);
        if (coef < 1) for (Parameter p : params) if (p.grad() != null) p.grad().mul_(coef);
    }

    /** Replica 0's ranks each write their stages, optimizer and scheduler state, and every replica's data stream. */
    static void save(Path dir, PipelineRunner runner, AdamW opt, LrScheduler lr, Generator dataRng, DeviceMesh mesh, long step) throws IOException {
        Tensor mine = Tensor.of(dataRng.state(), 2);
        Tensor all = Tensor.zeros(dev.fluxion.tensor.DType.INT64, mesh.size("dp"), 2);
        mesh.group("dp").allGather(all, mine).waitFor();
        if (mesh.coordinate("dp") != 0) return;
        Map<String, Tensor> model = new LinkedHashMap<>(), rng = new LinkedHashMap<>();
        for (Module stage : runner.stages().values()) model.putAll(stage.stateDict());
        for (int r = 0; r < mesh.size("dp"); r++) rng.put("data.replica" + r, all.select(0, r).contiguous());
        CheckpointDir.save(dir, new TrainingCheckpoint(step, Map.of("model", model, "optim", opt.stateDict(), "sched", lr.stateDict(), "rng", rng), Map.of()));
    }
}
