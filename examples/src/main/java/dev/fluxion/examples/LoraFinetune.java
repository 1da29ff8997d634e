package dev.fluxion.examples;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.io.TrainingCheckpoint;
import dev.fluxion.nn.lora.AdapterFiles;
import dev.fluxion.nn.lora.Lora;
import dev.fluxion.nn.lora.LoraConfig;
import dev.fluxion.nn.lora.LoraLayer;
import dev.fluxion.nn.lora.Nf4Linear;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.Clipping;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CharGpt's fine-tuning mode: loads a trained char-GPT checkpoint, freezes it, adds LoRA adapters (or, with
 * --qlora, first turns the blocks' Linear layers into 4-bit NF4 with double quantization, as QLoRA does) and
 * trains only the adapters on another text. Writes the adapter as PEFT does (adapter_model.safetensors and
 * adapter_config.json) and a metrics.csv.
 *
 * <pre>
 *   mvn -B -q -DskipTests -Ptrain verify -Dmain.args="--finetune runs/char-gpt/checkpoint.safetensors --lora 8"
 *   mvn -B -q -DskipTests -Ptrain verify -Dmain.args="--finetune runs/char-gpt/checkpoint.safetensors --qlora 8 --data README.md"
 * </pre>
 * Options: --finetune FILE, --lora R or --qlora R, --alpha A (2R), --dropout P (0.05), --targets a,b (qkv,proj,mlp.0,mlp.2),
 * --data PATH (README.md), --out DIR (runs/char-gpt-lora), --steps N (300), --batch N (16), --lr X (3e-3), --seed N,
 * --eval-every N (50), --sample N (300), --prompt TEXT.
 */
final class LoraFinetune {
    private LoraFinetune() {}

    /** Whether CharGpt's arguments ask for this mode. */
    static boolean wanted(String[] args) { return List.of(args).contains("--finetune"); }

    record Options(Path checkpoint, int rank, boolean qlora, double alpha, double dropout, List<String> targets, Path data, Path out,
                   int steps, int batch, double lr, long seed, int evalEvery, int sample, String prompt) {
        static Options parse(String[] args) {
            Map<String, String> m = new LinkedHashMap<>();
            for (int i = 0; i < args.length; i++) {
                if (!args[i].startsWith("--") || i + 1 >= args.length) throw new IllegalArgumentException("CharGpt --finetune: bad argument '" + args[i] + "' (options take a value)");
                m.put(args[i].substring(2), args[++i]);
            }
            if (m.containsKey("lora") == m.containsKey("qlora")) throw new IllegalArgumentException("CharGpt --finetune: give exactly one of --lora R and --qlora R");
            boolean q = m.containsKey("qlora");
            int r = Integer.parseInt(m.get(q ? "qlora" : "lora"));
            Options o = new Options(Path.of(m.get("finetune")), r, q, Double.parseDouble(m.getOrDefault("alpha", Integer.toString(2 * r))),
                    Double.parseDouble(m.getOrDefault("dropout", "0.05")), List.of(m.getOrDefault("targets", "qkv,proj,mlp.0,mlp.2").split(",")),
                    Path.of(m.getOrDefault("data", "README.md")), Path.of(m.getOrDefault("out", "runs/char-gpt-lora")),
                    Integer.parseInt(m.getOrDefault("steps", "300")), Integer.parseInt(m.getOrDefault("batch", "16")),
                    Double.parseDouble(m.getOrDefault("lr", "3e-3")), Long.parseLong(m.getOrDefault("seed", "1337")),
                    Integer.parseInt(m.getOrDefault("eval-every", "50")), Integer.parseInt(m.getOrDefault("sample", "300")),
                    m.getOrDefault("prompt", "## "));
            m.keySet().removeAll(List.of("finetune", "lora", "qlora", "alpha", "dropout", "targets", "data", "out", "steps", "batch", "lr", "seed",
                    "eval-every", "sample", "prompt"));
            if (!m.isEmpty()) throw new IllegalArgumentException("CharGpt --finetune: unknown options " + m.keySet());
            return o;
        }
    }

    /** The model config a CharGpt checkpoint records in its metadata ("Config[vocab=256, context=64, ...]"). */
    static Gpt.Config config(TrainingCheckpoint c, Path file) {
        String s = c.metadata().get("model");
        if (s == null) throw new IllegalArgumentException(file + ": no 'model' metadata; is it a CharGpt checkpoint?");
        Map<String, String> kv = new LinkedHashMap<>();
        Matcher mm = Pattern.compile("(\\w+)=([0-9.eE-]+)").matcher(s);
        while (mm.find()) kv.put(mm.group(1), mm.group(2));
        try {
            return new Gpt.Config(Integer.parseInt(kv.get("vocab")), Integer.parseInt(kv.get("context")), Integer.parseInt(kv.get("layers")),
                    Integer.parseInt(kv.get("heads")), Integer.parseInt(kv.get("width")), 0.0);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": cannot read the model config from '" + s + "'", e);
        }
    }

    static void run(String[] args) throws IOException {
        Options o = Options.parse(args);
        TrainingCheckpoint ckpt = TrainingCheckpoint.load(o.checkpoint());
        Gpt.Config config = config(ckpt, o.checkpoint());
        Gpt model = new Gpt(config, Init.seed(o.seed()));
        model.loadStateDict(ckpt.section("model"));
        System.out.printf("base: %s from %s (step %d)%n", config, o.checkpoint(), ckpt.step());
        if (o.qlora()) {
            List<String> q = Lora.quantize(model, path -> path.startsWith("blocks."), true);   // the head stays full precision, as in QLoRA
            long bytes = 0, params = 0;
            for (var m : model.namedModules().values()) if (m instanceof Nf4Linear n) { bytes += n.weight().bytes(); params += n.weight().numel(); }
            System.out.printf(Locale.ROOT, "qlora: %d Linear layers in NF4 with double quantization: %,d weights in %,d bytes (%.4f bytes each)%n",
                    q.size(), params, bytes, (double) bytes / params);
        }
        LoraConfig lc = new LoraConfig(o.rank(), o.alpha(), o.dropout(), o.targets(), null, false);
        Lora.wrap(model, lc, Init.seed(o.seed() + 1));
        Lora.printTrainableParameters(model);

        byte[] text = CharGpt.Corpus.read(o.data());
        var train = CharGpt.Corpus.train(text);
        var val = CharGpt.Corpus.validation(text);
        System.out.printf("fine-tuning data: %,d bytes from %s%n", text.length, o.data().toAbsolutePath().normalize());
        var opt = new AdamW(Lora.trainable(model), AdamW.Config.DEFAULT.withLr(o.lr()).withWeightDecay(0));
        Generator rng = new Generator(o.seed() + 1);
        int context = config.context();
        java.nio.file.Files.createDirectories(o.out());
        double before = evaluate(model, val, o.batch(), context, o.seed());
        System.out.printf(Locale.ROOT, "step 0: val %.4f (the base model on the new text)%n", before);
        try (Metrics metrics = new Metrics(o.out().resolve("metrics.csv"), false)) {
            long start = System.nanoTime();
            double avg = Double.NaN;
            for (int step = 1; step <= o.steps(); step++) {
                double loss;
                try (var scope = Scope.open()) {
                    Tensor[] b = train.batch(rng, o.batch(), context);
                    Tensor l = Losses.crossEntropy(model.forward(b[0]), b[1]);
                    opt.zeroGrad();
                    l.backward();
                    Clipping.clipGradNorm(Lora.trainable(model), 1.0);
                    opt.step();
                    loss = l.item();
                }
                avg = Double.isNaN(avg) ? loss : 0.9 * avg + 0.1 * loss;
                double v = step % o.evalEvery() == 0 || step == o.steps() ? evaluate(model, val, o.batch(), context, o.seed()) : Double.NaN;
                metrics.append(step, loss, v, o.lr(), 0);
                if (!Double.isNaN(v))
                    System.out.printf(Locale.ROOT, "step %d: train %.4f | val %.4f | %.0f ms/step%n", step, avg, v, (System.nanoTime() - start) / 1e6 / step);
            }
        }
        AdapterFiles.save(model, o.out(), LoraLayer.DEFAULT, o.checkpoint().toString());
        System.out.printf("wrote %s and %s%n", o.out().resolve(AdapterFiles.WEIGHTS), o.out().resolve(AdapterFiles.CONFIG));
        System.out.println("---- sample ----");
        System.out.println(CharGpt.sample(model, o.prompt(), o.sample(), context, new Generator(o.seed() + 3)));
    }

    /** Mean loss over 4 fixed validation batches, without dropout or recording. */
    static double evaluate(Gpt model, CharGpt.Corpus val, int batch, int context, long seed) {
        model.eval();
        Generator rng = new Generator(seed + 2);
        double sum = 0;
        try (var off = Autodiff.noGrad(); var scope = Scope.open()) {
            for (int i = 0; i < 4; i++) {
                Tensor[] b = val.batch(rng, batch, context);
                sum += Losses.crossEntropy(model.forward(b[0]), b[1]).item();
            }
        }
        model.train();
        return sum / 4;
    }
}
