package dev.fluxion.examples;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.Clipping;
import dev.fluxion.optim.LrScheduler;
import dev.fluxion.parallel.Distributed;
import dev.fluxion.parallel.DistributedDataParallel;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.Backends;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * CharGpt on a GPU: where a CUDA device is usable the main job trains there (each rank under bin/fluxrun on its
 * own GPU, cuda:LOCAL_RANK) with bfloat16 autocast (GEMMs in bfloat16, softmax, norms and the loss in float32;
 * parameters, gradients and AdamW state float32). {@code --device cpu} opts out, {@code --device cuda:N} picks a
 * GPU, {@code --precision fp32|bf16|fp16} sets autocast (fp16 without a loss scaler is not offered). It prints
 * which device it uses and why; the rest of the options are CharGpt's. Differences from the CPU run: no
 * checkpoints or --resume yet, and the final sample is drawn on the CPU.
 *
 * <pre>
 *   java ... dev.fluxion.examples.CharGpt --steps 300                  # on the GPU when there is one
 *   java ... dev.fluxion.examples.CharGpt --device cpu                 # always on the CPU
 * </pre>
 */
public final class GpuCharGpt {
    private GpuCharGpt() {}

    /** Where to train and why, the autocast dtype (null: float32), and the arguments left for CharGpt. */
    public record Choice(Device device, String why, DType autocast, String[] rest) {
        /** Whether the run goes to a GPU. */
        public boolean onGpu() { return device.kind() == Device.Kind.CUDA; }

        /** Prints the choice (rank 0 only). */
        public void announce() {
            if (Distributed.Env.fromSystem().rank() == 0) System.out.println("device: " + describe());
        }

        String describe() {
            return device + " (" + why + ")" + (onGpu() ? ", autocast " + (autocast == null ? "off (float32)" : autocast.toString().toLowerCase(Locale.ROOT)) : "");
        }
    }

    /**
     * Takes --device and --precision out of args and decides: cpu when asked; the named GPU; by default this
     * rank's GPU (cuda:LOCAL_RANK modulo the GPU count) when the CUDA backend found one, else the CPU with the
     * backend's reason.
     */
    public static Choice choose(String[] args) {
        String device = "auto", precision = "bf16";
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if ((args[i].equals("--device") || args[i].equals("--precision")) && i + 1 >= args.length)
                throw new IllegalArgumentException("CharGpt: option " + args[i] + " needs a value");
            if (args[i].equals("--device")) device = args[++i];
            else if (args[i].equals("--precision")) precision = args[++i];
            else rest.add(args[i]);
        }
        DType autocast = switch (precision) {
            case "bf16", "bfloat16" -> DType.BFLOAT16;
            case "fp32", "float32" -> null;
            default -> throw new IllegalArgumentException("CharGpt: --precision must be bf16 or fp32, got '" + precision + "'");
        };
        String[] left = rest.toArray(String[]::new);
        if (device.equals("cpu")) return new Choice(Device.CPU, "asked with --device cpu", null, left);
        List<Device> gpus = Backends.devices().stream().filter(d -> d.kind() == Device.Kind.CUDA).toList();
        if (device.equals("auto") || device.equals("cuda")) {
            if (gpus.isEmpty()) {
                if (device.equals("cuda")) throw new IllegalArgumentException("CharGpt: --device cuda, but no GPU is usable: " + String.join("; ", Backends.unavailableReasons()));
                return new Choice(Device.CPU, "no usable GPU: " + String.join("; ", Backends.unavailableReasons()), null, left);
            }
            int local = Distributed.Env.fromSystem().localRank();
            Device d = gpus.get(Math.floorMod(local, gpus.size()));
            return new Choice(d, gpus.size() + " GPU(s) found; this rank (local rank " + local + ") takes " + d, autocast, left);
        }
        Device d = Device.parse(device);
        if (d.kind() == Device.Kind.CUDA && !gpus.contains(d))
            throw new IllegalArgumentException("CharGpt: --device " + device + " is not usable here; GPUs: " + gpus + " " + Backends.unavailableReasons());
        return new Choice(d, "asked with --device " + device, d.kind() == Device.Kind.CUDA ? autocast : null, left);
    }

    /** The default CharGpt run (single process or DDP under bin/fluxrun) on the chosen GPU. */
    public static void run(CharGpt.Options o, Choice c) throws IOException {
        ProcessGroup pg = Distributed.isDistributed() ? Distributed.initFromEnv() : null;   // CUDA tensors go through NCCL
        int rank = pg == null ? 0 : pg.rank(), world = pg == null ? 1 : pg.size();
        boolean lead = rank == 0;
        Device dev = c.device();
        if (lead) System.out.println("device: " + c.describe());
        byte[] text = CharGpt.Corpus.read(o.data());
        CharGpt.Corpus train = CharGpt.Corpus.train(text), val = CharGpt.Corpus.validation(text);
        if (lead) System.out.printf("data: %,d bytes from %s%n", text.length, o.data().toAbsolutePath().normalize());
        var config = o.modelConfig();
        Init init = Init.seed(o.seed()).on(dev);
        Gpt model = new Gpt(config, init);
        Module trained = pg == null ? model : new DistributedDataParallel(model, pg);
        if (rank > 0) init.generator().setState(new Generator(o.seed() + 7919L * rank).state());
        var opt = new AdamW(model.parameters(), o.adamw());
        LrScheduler schedule = o.schedule(opt);
        Generator dataRng = new Generator(o.seed() + 1 + 1_000_003L * rank);
        if (lead) System.out.printf("model: %,d parameters, %s%s%n", model.parameterCount(), config, world > 1 ? ", " + world + " ranks (DDP)" : "");
        Files.createDirectories(o.out());
        Metrics metrics = lead ? new Metrics(o.out().resolve("metrics.csv"), false) : null;
        Progress progress = new Progress(0, o.steps(), (long) o.batch() * o.context() * world);
        double valLoss = Double.NaN;
        long steps = Math.min(o.steps(), o.stopAfter());
        for (long step = 0; step < steps; step++) {
            double loss;
            try (var scope = Scope.open()) {
                Tensor[] batch = train.batch(dataRng, o.batch(), o.context());
                Tensor x = batch[0].to(dev), y = batch[1].to(dev);
                Tensor lossT;
                try (var ac = Autocast.open(c.autocast() == null ? DType.BFLOAT16 : c.autocast(), c.autocast() != null)) {
                    lossT = Losses.crossEntropy(trained.forward(x), y);
                }
                opt.zeroGrad();
                lossT.backward();
                Clipping.clipGradNorm(model.parameters(), 1.0);
                opt.step();
                schedule.step();
                loss = lossT.item();
            }
            boolean last = step + 1 == steps;
            valLoss = Double.NaN;
            if (lead && ((step + 1) % o.evalEvery() == 0 || last)) valLoss = evaluate(model, val, o, c, new Generator(o.seed() + 2));
            if (lead) progress.update(step + 1, loss, valLoss);
            if (lead) metrics.append(step + 1, loss, valLoss, opt.lr(0), progress.tokensPerSecond());
        }
        if (pg != null) pg.close();
        if (!lead) return;
        metrics.close();
        System.out.printf(Locale.ROOT, "done on %s: %d steps, final validation loss %.4f, %,.0f tokens/s%n", dev, steps, valLoss, progress.tokensPerSecond());
        if (o.sample() > 0) {
            model.to(Device.CPU);
            System.out.println("---- sample ----");
            System.out.println(CharGpt.sample(model, o.prompt(), o.sample(), config.context(), new Generator(o.seed() + 3)));
        }
    }

    /** Mean loss over the same fixed validation batches as the CPU run, on the GPU under the run's autocast. */
    static double evaluate(Gpt model, CharGpt.Corpus val, CharGpt.Options o, Choice c, Generator rng) {
        model.eval();
        double sum = 0;
        int batches = 4;
        try (var off = Autodiff.noGrad(); var scope = Scope.open();
             var ac = Autocast.open(c.autocast() == null ? DType.BFLOAT16 : c.autocast(), c.autocast() != null)) {
            for (int i = 0; i < batches; i++) {
                Tensor[] b = val.batch(rng, o.batch(), o.context());
                sum += Losses.crossEntropy(model.forward(b[0].to(c.device())), b[1].to(c.device())).item();
            }
        }
        model.train();
        return sum / batches;
    }
}
