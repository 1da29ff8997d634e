package dev.fluxion.examples;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Generation;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.io.CheckpointDir;
import dev.fluxion.nn.io.TrainingCheckpoint;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.Clipping;
import dev.fluxion.optim.LrScheduler;
import dev.fluxion.optim.Optimizer;
import dev.fluxion.optim.Schedule;
import dev.fluxion.parallel.Distributed;
import dev.fluxion.parallel.DistributedDataParallel;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.DType;
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
 * The main job: trains a character-level (byte-level) GPT on any text file or folder, by default this
 * repository's own sources, so nothing is downloaded. It prints a progress line, writes metrics.csv and
 * loss.png, checkpoints (and resumes with --resume), and finally samples text from the model.
 *
 * <pre>
 *   mvn -B -q -DskipTests -Ptrain verify                                   # the default ~2-minute run
 *   mvn -B -q -DskipTests -Ptrain verify -Dmain.args="--data README.md --steps 2000 --resume"
 * </pre>
 * Started by {@code bin/fluxrun --nproc-per-node N} it trains data-parallel (DDP): each rank draws its own batches
 * (--batch is per rank), gradients are averaged, and only rank 0 prints, writes metrics and checkpoints.
 * Options: --data PATH, --out DIR (runs/char-gpt), --steps N, --batch N, --context N, --layers N,
 * --heads N, --width N, --dropout P, --lr X, --seed N, --eval-every N, --checkpoint-every N, --resume,
 * --sample N (bytes to generate), --prompt TEXT, --stop-after N (checkpoint and stop after N steps, as an interrupted run).
 * With --finetune CHECKPOINT --lora R (or --qlora R) it fine-tunes a trained model with LoRA adapters instead: see {@link LoraFinetune}.
 * Pipeline parallelism: --pp N [--schedule gpipe|1f1b|interleaved|zb-h1] [--microbatches M] (see {@link PipelineCharGpt}).
 * --tp N [--sp]: tensor (and sequence) parallelism over groups of N ranks, see {@link TensorParallelCharGpt};
 * with --fsdp, FSDP over the data-parallel ranks, see {@link FsdpTensorParallelCharGpt}.
 * With a slow rank: --ps [--staleness S | --asp], --diloco H, --slow-rank R:Fx, --time-limit SECONDS (see {@link StragglerTraining}).
 * --fsdp: fully sharded data parallelism under bin/fluxrun, see {@link FsdpCharGpt}.
 * --device cpu|cuda[:N], --precision bf16|fp32: where a GPU is usable the default run trains there, see {@link GpuCharGpt}.
 */
public final class CharGpt {
    /** Every setting of a run; the defaults finish in about a minute on two CPU cores (1000 steps, about 21,000 tokens per second). */
    record Options(Path data, Path out, int steps, int batch, int context, int layers, int heads, int width, double dropout,
                   double lr, long seed, int evalEvery, int checkpointEvery, boolean resume, int sample, String prompt, int stopAfter) {
        static Options parse(String[] args) {
            Map<String, String> m = new LinkedHashMap<>();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (!a.startsWith("--")) throw new IllegalArgumentException("CharGpt: unexpected argument '" + a + "'");
                if (a.equals("--resume")) { m.put("resume", "true"); continue; }
                if (i + 1 >= args.length) throw new IllegalArgumentException("CharGpt: option " + a + " needs a value");
                m.put(a.substring(2), args[++i]);
            }
            Options o = new Options(Path.of(m.getOrDefault("data", ".")), Path.of(m.getOrDefault("out", "runs/char-gpt")),
                    num(m, "steps", 1000), num(m, "batch", 16), num(m, "context", 64), num(m, "layers", 3), num(m, "heads", 4),
                    num(m, "width", 128), Double.parseDouble(m.getOrDefault("dropout", "0")), Double.parseDouble(m.getOrDefault("lr", "2e-3")),
                    num(m, "seed", 1337), num(m, "eval-every", 100), num(m, "checkpoint-every", 250), m.containsKey("resume"),
                    num(m, "sample", 400), m.getOrDefault("prompt", "public final class "), num(m, "stop-after", Integer.MAX_VALUE));
            m.keySet().removeAll(List.of("data", "out", "steps", "batch", "context", "layers", "heads", "width", "dropout", "lr", "seed",
                    "eval-every", "checkpoint-every", "resume", "sample", "prompt", "stop-after"));
            if (!m.isEmpty()) throw new IllegalArgumentException("CharGpt: unknown options " + m.keySet());
            return o;
        }

        private static int num(Map<String, String> m, String key, int dflt) { return Integer.parseInt(m.getOrDefault(key, Integer.toString(dflt))); }

        /** The byte-level GPT these options describe (vocabulary 256); every training mode builds this one. */
        Gpt.Config modelConfig() { return new Gpt.Config(256, context, layers, heads, width, dropout); }

        /** AdamW as every mode trains: these options' lr, betas (0.9, 0.95), weight decay 0.1. */
        AdamW.Config adamw() { return AdamW.Config.DEFAULT.withLr(lr).withBetas(0.9, 0.95).withWeightDecay(0.1); }

        /** Warm-up (a tenth of the steps, at most 100) then cosine decay to lr / 10. */
        LrScheduler schedule(Optimizer<?, ?> opt) { return new LrScheduler(opt, Schedule.warmupCosine(Math.min(100, steps / 10), steps, lr / 10)); }
    }

    public static void main(String[] args) throws IOException {
        var device = GpuCharGpt.choose(args);   // --device cpu|cuda[:N], --precision bf16|fp32: the GPU when one is present
        args = device.rest();
        if (LoraFinetune.wanted(args)) { LoraFinetune.run(args); return; }   // --finetune FILE --lora R | --qlora R
        if (MeshPipelineCharGpt.wanted(args)) { MeshPipelineCharGpt.main(args); return; }   // --pp N with --tp T and/or --fsdp: 3-D
        if (PipelineCharGpt.wanted(args)) { PipelineCharGpt.main(args); return; }
        if (TensorParallelCharGpt.requested(args)) { TensorParallelCharGpt.main(args); return; }   // --tp N [--sp]
        var straggler = StragglerTraining.Flags.extract(args);   // --ps, --staleness, --asp, --diloco, --slow-rank, --time-limit
        if (straggler.active()) { StragglerTraining.run(Options.parse(straggler.rest()), straggler); return; }
        if (List.of(args).contains("--fsdp")) {   // fully sharded data parallel: see FsdpCharGpt
            FsdpCharGpt.run(Options.parse(java.util.Arrays.stream(args).filter(a -> !a.equals("--fsdp")).toArray(String[]::new)));
            return;
        }
        Options o = Options.parse(args);
        if (device.onGpu()) { GpuCharGpt.run(o, device); return; }
        device.announce();
        ProcessGroup pg = Distributed.isDistributed() ? Distributed.initFromEnv() : null;   // started by bin/fluxrun
        int rank = pg == null ? 0 : pg.rank(), world = pg == null ? 1 : pg.size();
        boolean lead = rank == 0;   // only rank 0 prints, writes metrics and checkpoints
        byte[] text = Corpus.read(o.data());
        int split = Corpus.split(text);
        Corpus train = Corpus.train(text), val = Corpus.validation(text);
        if (lead) System.out.printf("data: %,d bytes from %s (train %,d, validation %,d)%n", text.length, o.data().toAbsolutePath().normalize(), split, text.length - split);

        var config = o.modelConfig();
        Init init = Init.seed(o.seed());
        Gpt model = new Gpt(config, init);
        Module trained = pg == null ? model : new DistributedDataParallel(model, pg);   // averages gradients over the ranks
        if (rank > 0) init.generator().setState(new Generator(o.seed() + 7919L * rank).state());   // each rank its own dropout stream
        var opt = new AdamW(model.parameters(), o.adamw());
        var schedule = o.schedule(opt);
        Generator dataRng = new Generator(o.seed() + 1 + 1_000_003L * rank);   // each rank its own batches
        if (lead) System.out.printf("model: %,d parameters, %s%s%n", model.parameterCount(), config, world > 1 ? ", " + world + " ranks (DDP)" : "");

        Files.createDirectories(o.out());
        long start = 0;
        if (o.resume()) {
            var latest = CheckpointDir.loadLatest(o.out());
            if (latest.isPresent()) {
                TrainingCheckpoint c = latest.get();
                model.loadStateDict(c.section("model"));
                opt.loadStateDict(c.section("optim"));
                schedule.loadStateDict(c.section("sched"));
                Tensor stream = c.section("rng").get(rank == 0 ? "data" : "data.rank" + rank);
                if (stream != null) dataRng.setState(stream.toLongArray());
                else System.out.printf("rank %d: the checkpoint holds no data stream for this rank; drawing a fresh one%n", rank);
                init.generator().setState(c.section("rng").get("init").toLongArray());
                start = c.step();
                if (lead) System.out.printf("resumed from %s at step %d%n", o.out().resolve(CheckpointDir.LATEST), start);
            } else if (lead) {
                System.out.println("no checkpoint in " + o.out() + ": starting fresh");
            }
        }

        Metrics metrics = lead ? new Metrics(o.out().resolve("metrics.csv"), start > 0) : null;
        Progress progress = new Progress(start, o.steps(), (long) o.batch() * o.context() * world);
        for (long step = start; step < o.steps(); step++) {
            double loss;
            try (var scope = Scope.open()) {
                Tensor[] batch = train.batch(dataRng, o.batch(), o.context());       // (B, T) inputs and next-byte targets
                Tensor lossT = Losses.crossEntropy(trained.forward(batch[0]), batch[1]);
                opt.zeroGrad();
                lossT.backward();
                Clipping.clipGradNorm(model.parameters(), 1.0);
                opt.step();
                schedule.step();
                loss = lossT.item();
            }
            double valLoss = Double.NaN;
            boolean last = step + 1 == o.steps() || step + 1 == o.stopAfter();
            if (lead && ((step + 1) % o.evalEvery() == 0 || last)) valLoss = evaluate(model, val, o, new Generator(o.seed() + 2));
            if (lead) progress.update(step + 1, loss, valLoss);
            if (lead) metrics.append(step + 1, loss, valLoss, opt.lr(0), progress.tokensPerSecond());
            if ((step + 1) % o.checkpointEvery() == 0 || last) saveCheckpoint(o, model, opt, schedule, dataStreams(dataRng, pg), init, step + 1, lead);
            if (step + 1 == o.stopAfter()) {
                if (lead) System.out.println("stopping after step " + (step + 1) + " as asked; continue with --resume");
                if (lead) metrics.close();
                if (pg != null) pg.close();
                return;
            }
        }
        if (pg != null) pg.close();
        if (!lead) return;
        metrics.close();
        Path png = metrics.plot(o.out().resolve("loss.png"), "char-GPT on " + o.data().toAbsolutePath().normalize().getFileName());
        System.out.printf("wrote %s, %s%s%n", o.out().resolve("metrics.csv"), png == null ? "" : png + " and ", o.out().resolve(CheckpointDir.LATEST));
        System.out.println("---- sample ----");
        System.out.println(sample(model, o.prompt(), o.sample(), config.context(), new Generator(o.seed() + 3)));
    }

    /** Mean loss over a few fixed validation batches, without recording and without dropout. */
    static double evaluate(Gpt model, Corpus val, Options o, Generator rng) {
        model.eval();
        double sum = 0;
        int batches = 4;
        try (var off = Autodiff.noGrad(); var scope = Scope.open()) {
            for (int i = 0; i < batches; i++) {
                Tensor[] b = val.batch(rng, o.batch(), o.context());
                sum += Losses.crossEntropy(model.forward(b[0]), b[1]).item();
            }
        }
        model.train();
        return sum / batches;
    }

    /** Every rank's data stream state: "data" for rank 0 (as a single-process run writes it), "data.rankR" for the others. */
    static Map<String, Tensor> dataStreams(Generator dataRng, ProcessGroup pg) {
        Tensor mine = Tensor.of(dataRng.state(), 2);
        if (pg == null) return Map.of("data", mine);
        Tensor all = Tensor.zeros(DType.INT64, pg.size(), 2);
        pg.allGather(all, mine).waitFor();
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int r = 0; r < pg.size(); r++) out.put(r == 0 ? "data" : "data.rank" + r, all.select(0, r).contiguous());
        return out;
    }

    static void saveCheckpoint(Options o, Gpt model, AdamW opt, LrScheduler schedule, Map<String, Tensor> dataStreams, Init init, long step, boolean lead) {
        if (!lead) return;
        Map<String, Tensor> rng = new LinkedHashMap<>(dataStreams);
        rng.put("init", Tensor.of(init.generator().state(), 2));
        var sections = Map.of("model", model.stateDict(), "optim", opt.stateDict(), "sched", schedule.stateDict(), "rng", rng);
        try {
            CheckpointDir.save(o.out(), new TrainingCheckpoint(step, sections, Map.of("model", model.config().toString())));
        } catch (IOException e) {
            throw new UncheckedIOException("saving checkpoint at step " + step, e);
        }
    }

    /** Generates n bytes after prompt with temperature 0.8 (Gpt.generate: KV cache, the last context bytes seen). */
    static String sample(Gpt model, String prompt, int n, int context, Generator rng) {
        byte[] in = prompt.getBytes(StandardCharsets.UTF_8);
        long[] ids = new long[in.length];
        for (int i = 0; i < in.length; i++) ids[i] = in[i] & 0xff;
        long[] all = model.generate(Tensor.of(ids, 1, ids.length), Generation.Options.DEFAULT.withMaxNewTokens(n).withTemperature(0.8), rng).toLongArray();
        byte[] out = new byte[all.length];
        for (int i = 0; i < out.length; i++) out[i] = (byte) all[i];
        return new String(out, StandardCharsets.UTF_8);
    }

    /** A span of the byte stream; batches are random windows of context+1 bytes. */
    record Corpus(byte[] bytes, int from, int to) {
        Corpus {
            if (to - from < 2) throw new IllegalArgumentException("CharGpt: the text is too short (" + (to - from) + " bytes)");
        }

        /** The first 90% of text, for training. */
        static Corpus train(byte[] text) { return new Corpus(text, 0, split(text)); }

        /** The last 10% of text, for validation. */
        static Corpus validation(byte[] text) { return new Corpus(text, split(text), text.length); }

        static int split(byte[] text) { return (int) (text.length * 0.9); }

        /** Reads a file, or every .java, .md and .txt file under a folder (sorted, skipping target/ and hidden folders). */
        static byte[] read(Path path) throws IOException {
            if (!Files.exists(path)) throw new IOException("CharGpt: no such file or folder: " + path.toAbsolutePath());
            if (Files.isRegularFile(path)) return Files.readAllBytes(path);
            List<Path> files;
            try (var walk = Files.walk(path)) {
                files = walk.filter(Files::isRegularFile)
                        .filter(p -> { String s = p.toString(); return s.endsWith(".java") || s.endsWith(".md") || s.endsWith(".txt"); })
                        .filter(p -> { for (Path part : path.relativize(p)) { String s = part.toString(); if (s.equals("target") || s.startsWith(".") || s.equals("runs")) return false; } return true; })
                        .sorted().toList();
            }
            var out = new java.io.ByteArrayOutputStream();
            for (Path f : files) out.write(Files.readAllBytes(f));
            if (out.size() == 0) throw new IOException("CharGpt: no .java, .md or .txt files under " + path.toAbsolutePath());
            return out.toByteArray();
        }

        Tensor[] batch(Generator rng, int batch, int context) {
            int span = Math.min(context, to - from - 1);
            long[] x = new long[batch * span], y = new long[batch * span];
            for (int b = 0; b < batch; b++) {
                int s = from + (int) rng.nextLong(0, to - from - span);
                for (int t = 0; t < span; t++) {
                    x[b * span + t] = bytes[s + t] & 0xff;
                    y[b * span + t] = bytes[s + t + 1] & 0xff;
                }
            }
            return new Tensor[] {Tensor.of(x, batch, span), Tensor.of(y, batch, span)};
        }
    }
}
