package dev.fluxion.examples;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.io.CheckpointDir;
import dev.fluxion.nn.io.TrainingCheckpoint;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.LrScheduler;
import dev.fluxion.parallel.DeviceMesh;
import dev.fluxion.parallel.Distributed;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.DistributedDataParallel;
import dev.fluxion.parallel.tensor.Mappings;
import dev.fluxion.parallel.tensor.TensorParallel;
import dev.fluxion.parallel.tensor.TpContext;
import dev.fluxion.parallel.tensor.TpTraining;
import dev.fluxion.parallel.tensor.VocabParallelCrossEntropy;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * CharGpt's tensor-parallel mode ({@code --tp N}, optional {@code --sp} for sequence parallelism; with
 * {@code --fsdp}, FSDP over "dp" in place of DDP: {@link FsdpTensorParallelCharGpt}):
 * the ranks form a ("dp", "tp") mesh of (world / N, N); each "tp" group splits every block's heads and MLP
 * and the vocabulary (Megatron's layout, {@link TensorParallel#gptPlan}); DistributedDataParallel over
 * each "dp" group averages gradients. Every rank builds the full model from the seed and keeps its slices, so the weights do not
 * depend on N. Checkpoints hold the single-process state (model, optimizer, schedule, RNG) in CharGpt's
 * format: a run resumes at another N, or in one process with CharGpt itself.
 *
 * <pre>
 *   bin/fluxrun --nproc-per-node 2 dev.fluxion.examples.CharGpt --tp 2 --steps 200
 * </pre>
 */
final class TensorParallelCharGpt {
    private TensorParallelCharGpt() {}

    /** Whether args ask for this mode. */
    static boolean requested(String[] args) { return List.of(args).contains("--tp"); }

    static void main(String[] args) throws IOException {
        List<String> rest = new ArrayList<>(List.of(args));
        int at = rest.indexOf("--tp");
        if (at + 1 >= rest.size()) throw new IllegalArgumentException("CharGpt: --tp needs a value (the tensor-parallel degree)");
        int tpSize = Integer.parseInt(rest.get(at + 1));
        rest.subList(at, at + 2).clear();
        boolean sp = rest.remove("--sp");
        boolean fsdp = rest.remove("--fsdp");   // FSDP over "dp" in place of DDP: FsdpTensorParallelCharGpt
        CharGpt.Options o = CharGpt.Options.parse(rest.toArray(String[]::new));

        ProcessGroup world = Distributed.isDistributed() ? Distributed.initFromEnv() : null;
        if (world == null && tpSize != 1)
            throw new IllegalArgumentException("CharGpt --tp " + tpSize + ": start it with bin/fluxrun --nproc-per-node " + tpSize + " (or a multiple)");
        if (world == null) { CharGpt.main(rest.toArray(String[]::new)); return; }
        if (world.size() % tpSize != 0)
            throw new IllegalArgumentException("CharGpt --tp " + tpSize + ": the world of " + world.size() + " ranks is not a multiple of it");
        if (fsdp) { FsdpTensorParallelCharGpt.run(o, world, tpSize, sp); return; }
        DeviceMesh mesh = mesh(world, tpSize);
        ProcessGroup tp = mesh.group("tp"), dp = mesh.group("dp");
        int dpRank = mesh.coordinate("dp");
        boolean lead = world.rank() == 0;

        byte[] text = CharGpt.Corpus.read(o.data());
        var train = CharGpt.Corpus.train(text);
        var val = CharGpt.Corpus.validation(text);
        var config = o.modelConfig();
        Init init = Init.seed(o.seed());
        Gpt model = new Gpt(config, init);
        long fullCount = model.parameterCount();
        makeTensorParallel(model, init, tp, sp);
        Module trained = dp.size() > 1 ? new DistributedDataParallel(model, dp) : model;   // averages gradients over "dp"
        // the tp ranks of one dp group share batches and dropout masks; dp groups differ in both
        if (dpRank > 0) init.generator().setState(new Generator(o.seed() + 7919L * dpRank).state());
        Generator dataRng = new Generator(o.seed() + 1 + 1_000_003L * dpRank);
        var opt = new AdamW(model.parameters(), o.adamw());
        var schedule = o.schedule(opt);
        if (lead) System.out.printf("model: %,d parameters (%,d on each rank), %s, %s%s%n", fullCount, model.parameterCount(), config, mesh,
                sp ? ", sequence parallel" : "");

        Files.createDirectories(o.out());
        long start = 0;
        if (o.resume()) {
            var latest = CheckpointDir.loadLatest(o.out());
            if (latest.isPresent()) {
                TrainingCheckpoint c = latest.get();
                TensorParallel.loadFullStateDict(model, c.section("model"), tp);
                opt.loadStateDict(TpTraining.localOptimizerState(c.section("optim"), model, tp));
                schedule.loadStateDict(c.section("sched"));
                Tensor stream = c.section("rng").get(dpRank == 0 ? "data" : "data.rank" + dpRank);
                if (stream != null) dataRng.setState(stream.toLongArray());
                Tensor dropoutStream = c.section("rng").get(dpRank == 0 ? "init" : "init.rank" + dpRank);
                if (dropoutStream != null) init.generator().setState(dropoutStream.toLongArray());
                start = c.step();
                if (lead) System.out.printf("resumed from %s at step %d%n", o.out().resolve(CheckpointDir.LATEST), start);
            } else if (lead) System.out.println("no checkpoint in " + o.out() + ": starting fresh");
        }

        Metrics metrics = lead ? new Metrics(o.out().resolve("metrics.csv"), start > 0) : null;
        Progress progress = new Progress(start, o.steps(), (long) o.batch() * o.context() * mesh.size("dp"));
        for (long step = start; step < o.steps(); step++) {
            double loss;
            try (var scope = Scope.open()) {
                Tensor[] batch = train.batch(dataRng, o.batch(), o.context());
                Tensor lossT = VocabParallelCrossEntropy.apply(trained.forward(batch[0]), batch[1], tp);   // logits (B, T, 256/tp)
                opt.zeroGrad();
                lossT.backward();
                TpTraining.clipGradNorm(model, 1.0, tp);
                opt.step();
                schedule.step();
                loss = lossT.item();
            }
            double valLoss = Double.NaN;
            boolean last = step + 1 == o.steps() || step + 1 == o.stopAfter();
            if ((step + 1) % o.evalEvery() == 0 || last) valLoss = evaluate(model, val, o, tp);   // every rank: it communicates
            if (lead) progress.update(step + 1, loss, valLoss);
            if (lead) metrics.append(step + 1, loss, valLoss, opt.lr(0), progress.tokensPerSecond());
            if ((step + 1) % o.checkpointEvery() == 0 || last) save(o, model, opt, schedule, dataRng, init, step + 1, tp, dp, lead);
            if (step + 1 == o.stopAfter()) {
                if (lead) System.out.println("stopping after step " + (step + 1) + " as asked; continue with --resume");
                break;
            }
        }
        String sample = sample(model, o.prompt(), o.sample(), config.context(), new Generator(o.seed() + 3), tp);
        world.close();
        if (!lead) return;
        metrics.close();
        Path png = metrics.plot(o.out().resolve("loss.png"), "char-GPT (tp=" + tpSize + ") on " + o.data().toAbsolutePath().normalize().getFileName());
        System.out.printf("wrote %s, %s%s%n", o.out().resolve("metrics.csv"), png == null ? "" : png + " and ", o.out().resolve(CheckpointDir.LATEST));
        System.out.println("---- sample ----");
        System.out.println(sample);
    }

    static double evaluate(Gpt model, CharGpt.Corpus val, CharGpt.Options o, ProcessGroup tp) {
        model.eval();
        double sum = 0;
        int batches = 4;
        Generator rng = new Generator(o.seed() + 2);
        try (var off = Autodiff.noGrad(); var scope = Scope.open()) {
            for (int i = 0; i < batches; i++) {
                Tensor[] b = val.batch(rng, o.batch(), o.context());
                sum += VocabParallelCrossEntropy.apply(model.forward(b[0]), b[1], tp).item();
            }
        }
        model.train();
        return sum / batches;
    }

    /** Every rank gathers; rank 0 writes the single-process checkpoint (CharGpt's sections and names). */
    static void save(CharGpt.Options o, Gpt model, AdamW opt, LrScheduler schedule, Generator dataRng, Init init, long step,
                     ProcessGroup tp, ProcessGroup dp, boolean lead) {
        Map<String, Tensor> full = TensorParallel.fullStateDict(model, tp);
        Map<String, Tensor> optim = TpTraining.fullOptimizerState(opt.stateDict(), model, tp);
        Map<String, Tensor> rng = new LinkedHashMap<>(CharGpt.dataStreams(dataRng, dp));
        Map<String, Tensor> inits = CharGpt.dataStreams(init.generator(), dp);
        for (var e : inits.entrySet()) rng.put(e.getKey().replace("data", "init"), e.getValue());
        if (!lead) return;
        try {
            CheckpointDir.save(o.out(), new TrainingCheckpoint(step, Map.of("model", full, "optim", optim, "sched", schedule.stateDict(), "rng", rng),
                    Map.of("model", model.config().toString(), "tp", Integer.toString(tp.size()))));
        } catch (IOException e) {
            throw new UncheckedIOException("saving checkpoint at step " + step, e);
        }
    }

    /**
     * CharGpt's sampler; every tp rank runs it (same generator, same choices) and gathers the last position's
     * logits. The window is padded on the right to a multiple of the tp size (sequence parallelism splits
     * it); causal attention keeps the padding from reaching the positions before it.
     */
    static String sample(Gpt model, String prompt, int n, int context, Generator rng, ProcessGroup tp) {
        model.eval();
        List<Long> ids = new ArrayList<>();
        for (byte b : prompt.getBytes(StandardCharsets.UTF_8)) ids.add((long) (b & 0xff));
        try (var off = Autodiff.noGrad()) {
            for (int i = 0; i < n; i++) {
                try (var scope = Scope.open()) {
                    int n0 = tp.size(), from = Math.max(0, ids.size() - (context - context % n0));
                    int len = ids.size() - from, padded = (len + n0 - 1) / n0 * n0;
                    long[] window = new long[padded];
                    for (int k = 0; k < len; k++) window[k] = ids.get(from + k);
                    Tensor local = model.forward(Tensor.of(window, 1, padded)).select(1, len - 1);      // (1, 256/tp)
                    float[] p = Mappings.gatherFromRegion(local, tp).reshape(-1).div(0.8).softmax(-1).toFloatArray();
                    double u = rng.nextDouble(), acc = 0;
                    int next = p.length - 1;
                    for (int c = 0; c < p.length; c++) { acc += p[c]; if (u < acc) { next = c; break; } }
                    ids.add((long) next);
                }
            }
        }
        byte[] out = new byte[ids.size()];
        for (int i = 0; i < out.length; i++) out[i] = (byte) (long) ids.get(i);
        return new String(out, StandardCharsets.UTF_8);
    }

    /** The ("dp", "tp") mesh of world with tensor-parallel groups of tpSize neighbouring ranks. */
    static DeviceMesh mesh(ProcessGroup world, int tpSize) {
        return DeviceMesh.of(world, new String[] {"dp", "tp"}, new int[] {world.size() / tpSize, tpSize});
    }

    /** Cuts model, built whole from the seed (so every tp degree starts from the same weights), into this rank's tp pieces. */
    static void makeTensorParallel(Gpt model, Init init, ProcessGroup tp, boolean sp) {
        TensorParallel.gptPlan(model.config()).apply(model, new TpContext(tp, sp, init.generator()));
    }
}
