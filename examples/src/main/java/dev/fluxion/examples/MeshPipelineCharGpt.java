package dev.fluxion.examples;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.io.Safetensors;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.DeviceMesh;
import dev.fluxion.parallel.Distributed;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.parallel.fsdp.FsdpConfig;
import dev.fluxion.parallel.pipeline.MeshPipeline;
import dev.fluxion.parallel.pipeline.Schedules;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * CharGpt's 3-D mode ({@code --pp N} with {@code --tp T} and/or {@code --fsdp}): the ranks form a
 * ("pp", "dp", "tp") mesh of (N, world / (N T), T); {@link MeshPipeline} makes the Gpt tensor-parallel over
 * "tp", cuts it into stages over "pp" and fully shards each stage over "dp" (without {@code --fsdp} the
 * "dp" size must be 1).
 *
 * <pre>
 * bin/fluxrun --nproc-per-node 8 dev.fluxion.examples.CharGpt --pp 2 --tp 2 --fsdp --steps 20 --layers 2 --width 64
 * </pre>
 * Options added to CharGpt's: --pp N, --tp T (1), --fsdp, --schedule gpipe|1f1b|interleaved (1f1b),
 * --microbatches M (4), --virtual V (2). Each "dp" replica draws its own batches. At the end (and every
 * --checkpoint-every steps) the weights are gathered to single-process names and shapes, and the ranks with
 * dp = tp = 0 write their stages' weights to OUT/pp3d/stage-rank-R.safetensors (together: the whole model).
 * Not in this mode: optimizer state in the checkpoint, --resume, gradient clipping, validation and sampling.
 */
final class MeshPipelineCharGpt {
    private MeshPipelineCharGpt() {}

    /** True when --pp comes with --tp or --fsdp. */
    static boolean wanted(String[] args) {
        List<String> a = List.of(args);
        return a.contains("--pp") && (a.contains("--tp") || a.contains("--fsdp"));
    }

    static void main(String[] args) throws IOException {
        Map<String, String> own = new HashMap<>(Map.of("schedule", "1f1b", "microbatches", "4", "virtual", "2", "tp", "1"));
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String key = args[i].startsWith("--") ? args[i].substring(2) : "";
            if (key.equals("fsdp")) own.put("fsdp", "true");
            else if (List.of("pp", "tp", "schedule", "microbatches", "virtual").contains(key) && i + 1 < args.length) own.put(key, args[++i]);
            else rest.add(args[i]);
        }
        CharGpt.Options o = CharGpt.Options.parse(rest.toArray(String[]::new));
        if (o.resume()) throw new IllegalArgumentException("CharGpt --pp with --tp/--fsdp: --resume is not supported in this mode");
        int pp = Integer.parseInt(own.get("pp")), tp = Integer.parseInt(own.get("tp")), m = Integer.parseInt(own.get("microbatches"));
        if (!Distributed.isDistributed()) throw new IllegalArgumentException("CharGpt --pp " + pp + " --tp " + tp + ": start it with bin/fluxrun --nproc-per-node N (a multiple of " + pp * tp + ")");
        if (o.batch() % m != 0) throw new IllegalArgumentException("CharGpt --pp: --batch " + o.batch() + " is not a multiple of --microbatches " + m);
        ProcessGroup world = Distributed.initFromEnv();
        if (world.size() % (pp * tp) != 0) throw new IllegalArgumentException("CharGpt --pp " + pp + " --tp " + tp + ": " + world.size() + " ranks are not a multiple of " + pp * tp);
        int dp = world.size() / (pp * tp);
        if (dp > 1 && !own.containsKey("fsdp")) throw new IllegalArgumentException("CharGpt --pp " + pp + " --tp " + tp + " on " + world.size() + " ranks leaves a \"dp\" dim of " + dp + "; add --fsdp");
        DeviceMesh mesh = DeviceMesh.of(world, new String[] {"pp", "dp", "tp"}, new int[] {pp, dp, tp});
        boolean lead = world.rank() == 0;

        byte[] text = CharGpt.Corpus.read(o.data());
        CharGpt.Corpus train = CharGpt.Corpus.train(text);
        var config = o.modelConfig();
        Init init = Init.seed(o.seed());
        Gpt model = new Gpt(config, init);
        long count = model.parameterCount();
        var schedule = Schedules.byName(own.get("schedule"), pp, m, Integer.parseInt(own.get("virtual")));
        MeshPipeline pipe = MeshPipeline.forGpt(model, init.generator(), schedule, mesh, FsdpConfig.DEFAULT);
        var opt = new AdamW(pipe.parameters(), o.adamw());
        var lr = o.schedule(opt);
        Generator dataRng = new Generator(o.seed() + 1 + 1_000_003L * mesh.coordinate("dp"));   // one stream per replica: its stages and tp ranks draw alike
        if (lead) System.out.printf("model: %,d parameters, %s; 3-D mesh pp=%d x dp=%d (FSDP) x tp=%d, schedule %s, %d micro-batches%n",
                count, config, pp, dp, tp, schedule.name(), m);
        Path dir = o.out().resolve("pp3d");
        Files.createDirectories(dir);
        Progress progress = new Progress(0, o.steps(), (long) o.batch() * o.context() * dp);
        for (long step = 0; step < o.steps(); step++) {
            double loss;
            try (var scope = Scope.open()) {
                Tensor[] batch = train.batch(dataRng, o.batch(), o.context());
                opt.zeroGrad();
                double mine = pipe.step(batch[0].chunk(m, 0), batch[1].chunk(m, 0));
                opt.step();
                lr.step();
                loss = meanLoss(mine, mesh);
            }
            if (lead) progress.update(step + 1, loss, Double.NaN);
            boolean last = step + 1 == o.steps() || step + 1 == o.stopAfter();
            if ((step + 1) % o.checkpointEvery() == 0 || last) save(dir, pipe, mesh);
            if (step + 1 == o.stopAfter()) break;
        }
        if (lead) System.out.println("wrote " + dir.resolve("stage-rank-*.safetensors"));
        pipe.close();
        world.close();
    }

    /** The step's loss: each last-stage rank holds its replica's; summed over the world, divided by the dp x tp copies. */
    static double meanLoss(double mine, DeviceMesh mesh) {
        Tensor t = Tensor.of(new double[] {Double.isNaN(mine) ? 0 : mine}, 1);
        mesh.world().allReduce(t, ReduceOp.SUM).waitFor();
        return t.item() / (mesh.size("dp") * mesh.size("tp"));
    }

    /** Gathers the weights (a collective on every rank); the ranks with dp = tp = 0 write their stages'. */
    static void save(Path dir, MeshPipeline pipe, DeviceMesh mesh) throws IOException {
        Map<String, Tensor> full = pipe.fullStateDict();
        if (mesh.coordinate("dp") == 0 && mesh.coordinate("tp") == 0)
            Safetensors.save(dir.resolve("stage-rank-" + mesh.coordinate("pp") + ".safetensors"), full);
    }
}
