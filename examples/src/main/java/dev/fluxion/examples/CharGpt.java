package dev.fluxion.examples;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.io.CheckpointDir;
import dev.fluxion.nn.io.TrainingCheckpoint;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.Clipping;
import dev.fluxion.optim.LrScheduler;
import dev.fluxion.optim.Schedule;
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
 * Options: --data PATH, --out DIR (runs/char-gpt), --steps N, --batch N, --context N, --layers N,
 * --heads N, --width N, --dropout P, --lr X, --seed N, --eval-every N, --checkpoint-every N, --resume,
 * --sample N (bytes to generate), --prompt TEXT, --stop-after N (checkpoint and stop after N steps, as an interrupted run).
 */
public final class CharGpt {
    /** Every setting of a run; the defaults finish in about two minutes on two CPU cores. */
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
                    num(m, "steps", 600), num(m, "batch", 16), num(m, "context", 64), num(m, "layers", 3), num(m, "heads", 4),
                    num(m, "width", 128), Double.parseDouble(m.getOrDefault("dropout", "0")), Double.parseDouble(m.getOrDefault("lr", "2e-3")),
                    num(m, "seed", 1337), num(m, "eval-every", 100), num(m, "checkpoint-every", 200), m.containsKey("resume"),
                    num(m, "sample", 400), m.getOrDefault("prompt", "public final class "), num(m, "stop-after", Integer.MAX_VALUE));
            m.keySet().removeAll(List.of("data", "out", "steps", "batch", "context", "layers", "heads", "width", "dropout", "lr", "seed",
                    "eval-every", "checkpoint-every", "resume", "sample", "prompt", "stop-after"));
            if (!m.isEmpty()) throw new IllegalArgumentException("CharGpt: unknown options " + m.keySet());
            return o;
        }

        private static int num(Map<String, String> m, String key, int dflt) { return Integer.parseInt(m.getOrDefault(key, Integer.toString(dflt))); }
    }

    public static void main(String[] args) throws IOException {
        Options o = Options.parse(args);
        byte[] text = Corpus.read(o.data());
        int split = (int) (text.length * 0.9);
        Corpus train = new Corpus(text, 0, split), val = new Corpus(text, split, text.length);
        System.out.printf("data: %,d bytes from %s (train %,d, validation %,d)%n", text.length, o.data().toAbsolutePath().normalize(), split, text.length - split);

        var config = new Gpt.Config(256, o.context(), o.layers(), o.heads(), o.width(), o.dropout());
        Init init = Init.seed(o.seed());
        Gpt model = new Gpt(config, init);
        var opt = new AdamW(model.parameters(), AdamW.Config.DEFAULT.withLr(o.lr()).withBetas(0.9, 0.95).withWeightDecay(0.1));
        var schedule = new LrScheduler(opt, Schedule.warmupCosine(Math.min(100, o.steps() / 10), o.steps(), o.lr() / 10));
        Generator dataRng = new Generator(o.seed() + 1);
        System.out.printf("model: %,d parameters, %s%n", model.parameterCount(), config);

        Files.createDirectories(o.out());
        long start = 0;
        if (o.resume()) {
            var latest = CheckpointDir.loadLatest(o.out());
            if (latest.isPresent()) {
                TrainingCheckpoint c = latest.get();
                model.loadStateDict(c.section("model"));
                opt.loadStateDict(c.section("optim"));
                schedule.loadStateDict(c.section("sched"));
                dataRng.setState(c.section("rng").get("data").toLongArray());
                init.generator().setState(c.section("rng").get("init").toLongArray());
                start = c.step();
                System.out.printf("resumed from %s at step %d%n", o.out().resolve(CheckpointDir.LATEST), start);
            } else {
                System.out.println("no checkpoint in " + o.out() + ": starting fresh");
            }
        }

        Metrics metrics = new Metrics(o.out().resolve("metrics.csv"), start > 0);
        Progress progress = new Progress(start, o.steps(), (long) o.batch() * o.context());
        for (long step = start; step < o.steps(); step++) {
            double loss;
            try (var scope = Scope.open()) {
                Tensor[] batch = train.batch(dataRng, o.batch(), o.context());       // (B, T) inputs and next-byte targets
                Tensor lossT = Losses.crossEntropy(model.forward(batch[0]), batch[1]);
                opt.zeroGrad();
                lossT.backward();
                Clipping.clipGradNorm(model.parameters(), 1.0);
                opt.step();
                schedule.step();
                loss = lossT.item();
            }
            double valLoss = Double.NaN;
            boolean last = step + 1 == o.steps() || step + 1 == o.stopAfter();
            if ((step + 1) % o.evalEvery() == 0 || last) valLoss = evaluate(model, val, o, new Generator(o.seed() + 2));
            progress.update(step + 1, loss, valLoss);
            metrics.append(step + 1, loss, valLoss, opt.lr(0), progress.tokensPerSecond());
            if ((step + 1) % o.checkpointEvery() == 0 || last) saveCheckpoint(o, model, opt, schedule, dataRng, init, step + 1);
            if (step + 1 == o.stopAfter()) {
                System.out.println("stopping after step " + (step + 1) + " as asked; continue with --resume");
                metrics.close();
                return;
            }
        }
        metrics.close();
        LossPlot.write(o.out().resolve("loss.png"), metrics.rows(), "char-GPT on " + o.data().toAbsolutePath().normalize().getFileName());
        System.out.printf("wrote %s, %s and %s%n", o.out().resolve("metrics.csv"), o.out().resolve("loss.png"), o.out().resolve(CheckpointDir.LATEST));
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

    static void saveCheckpoint(Options o, Gpt model, AdamW opt, LrScheduler schedule, Generator dataRng, Init init, long step) {
        Map<String, Tensor> rng = Map.of("data", Tensor.of(dataRng.state(), 2), "init", Tensor.of(init.generator().state(), 2));
        var sections = Map.of("model", model.stateDict(), "optim", opt.stateDict(), "sched", schedule.stateDict(), "rng", rng);
        try {
            CheckpointDir.save(o.out(), new TrainingCheckpoint(step, sections, Map.of("model", model.config().toString())));
        } catch (IOException e) {
            throw new UncheckedIOException("saving checkpoint at step " + step, e);
        }
    }

    /** Generates n bytes after prompt: softmax over the last position with temperature 0.8, sampled. */
    static String sample(Gpt model, String prompt, int n, int context, Generator rng) {
        model.eval();
        List<Long> ids = new ArrayList<>();
        for (byte b : prompt.getBytes(StandardCharsets.UTF_8)) ids.add((long) (b & 0xff));
        try (var off = Autodiff.noGrad()) {
            for (int i = 0; i < n; i++) {
                try (var scope = Scope.open()) {
                    int from = Math.max(0, ids.size() - context);
                    long[] window = ids.subList(from, ids.size()).stream().mapToLong(Long::longValue).toArray();
                    Tensor logits = model.forward(Tensor.of(window, 1, window.length)).select(1, -1).reshape(-1);   // (vocab)
                    float[] p = logits.div(0.8).softmax(-1).toFloatArray();
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

    /** A span of the byte stream; batches are random windows of context+1 bytes. */
    record Corpus(byte[] bytes, int from, int to) {
        Corpus {
            if (to - from < 2) throw new IllegalArgumentException("CharGpt: the text is too short (" + (to - from) + " bytes)");
        }

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
