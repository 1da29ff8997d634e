package dev.fluxion.bench;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.nn.lora.Lora;
import dev.fluxion.nn.lora.LoraConfig;
import dev.fluxion.nn.lora.Nf4Linear;
import dev.fluxion.nn.lora.Nf4Weight;
import dev.fluxion.optim.AdamW;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.cpu.CpuMemory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * QLoRA's costs, measured: (1) bytes per base parameter of NF4 with and without double quantization, for
 * several weight sizes; (2) step time and peak memory of full fine-tuning, LoRA and QLoRA of the same GPT
 * (AdamW, LoRA r=8 on every Linear of the blocks; QLoRA also stores those Linears in NF4 with double
 * quantization). Each fine-tuning mode runs in a fresh JVM. Peak memory is given three ways: the model state
 * (weights, gradients, AdamW moments), the tensor pool's peak during the steps plus the NF4 arrays (which
 * live on the Java heap, outside the pool), and the process's peak RSS (VmHWM, reset after setup where the
 * kernel allows). Linux only.
 *
 * <pre>
 * mvn -B -q -pl bench -am package -DskipTests
 * java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.fluxion.bench.QloraBench [layers width context batch steps]
 * </pre>
 */
public final class QloraBench {
    private QloraBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--child")) {
            child(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]), Integer.parseInt(args[5]), Integer.parseInt(args[6]));
            return;
        }
        int layers = arg(args, 0, 4), width = arg(args, 1, 384), context = arg(args, 2, 128), batch = arg(args, 3, 4), steps = arg(args, 4, 6);
        bytesPerParameter();
        System.out.printf(Locale.ROOT, "%nfine-tuning a GPT (layers %d, width %d, context %d, batch %d), AdamW, median of %d timed steps after 2 warm-up, fresh JVM per mode%n",
                layers, width, context, batch, steps);
        System.out.printf("%-6s %12s %12s %14s %16s %14s %10s%n", "mode", "trainable", "weights MiB", "state MiB", "tensor peak MiB", "peak RSS MiB", "ms/step");
        List<double[]> rows = new ArrayList<>();
        for (String mode : List.of("full", "lora", "qlora")) {
            double[] r = runChild(mode, layers, width, context, batch, steps);
            rows.add(r);
            System.out.printf(Locale.ROOT, "%-6s %,12d %12.1f %14.1f %16.1f %14.0f %10.1f%n", mode, (long) r[0], r[1], r[2], r[3], r[4], r[5]);
        }
        double[] full = rows.get(0), q = rows.get(2);
        System.out.printf(Locale.ROOT, "qlora/full: weights %.3fx, state %.3fx, tensor peak %.3fx, RSS %.2fx, step time %.2fx%n",
                q[1] / full[1], q[2] / full[2], q[3] / full[3], q[4] / full[4], q[5] / full[5]);
    }

    private static int arg(String[] a, int i, int d) { return a.length > i ? Integer.parseInt(a[i]) : d; }

    static void bytesPerParameter() {
        System.out.println("NF4 storage (block 64; double quantization: 8-bit absmax, block 256, one float32 offset)");
        System.out.printf("%-12s %12s %18s %18s%n", "weight", "elements", "plain bytes/param", "double-quant b/p");
        Generator g = new Generator(7);
        for (int[] s : new int[][] {{64, 100}, {384, 384}, {1536, 384}, {4096, 4096}}) {
            Tensor w = Tensor.randn(g, s[0], s[1]).mul(0.02);
            Nf4Weight plain = Nf4Weight.quantize(w, false), dq = Nf4Weight.quantize(w, true);
            System.out.printf(Locale.ROOT, "%-12s %,12d %18.4f %18.4f%n", s[0] + "x" + s[1], plain.numel(), (double) plain.bytes() / plain.numel(),
                    (double) dq.bytes() / dq.numel());
            w.close();
        }
        System.out.println("(fp32 is 4 bytes/param, bf16 2; the QLoRA goal is <= 0.55 with double quantization)");
    }

    private static double[] runChild(String mode, int layers, int width, int context, int batch, int steps) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                QloraBench.class.getName(), "--child", mode, "" + layers, "" + width, "" + context, "" + batch, "" + steps));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String result = null;
        StringBuilder log = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("RESULT ")) result = line.substring(7); else log.append(line).append('\n');
            }
        }
        if (p.waitFor() != 0 || result == null) throw new IllegalStateException("QloraBench: mode " + mode + " failed (exit " + p.exitValue() + "):\n" + log);
        String[] f = result.trim().split(" ");
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) out[i] = Double.parseDouble(f[i]);
        return out;
    }

    private static void child(String mode, int layers, int width, int context, int batch, int steps) throws IOException {
        Gpt model = new Gpt(new Gpt.Config(256, context, layers, Math.max(1, width / 64), width, 0), Init.seed(1));
        if (mode.equals("qlora")) Lora.quantize(model, path -> path.startsWith("blocks."), true);
        if (!mode.equals("full")) Lora.wrap(model, LoraConfig.of(8, 16, "qkv", "proj", "mlp.0", "mlp.2"), Init.seed(2));
        List<Parameter> trainable = Lora.trainable(model);
        var opt = new AdamW(trainable, AdamW.Config.DEFAULT.withLr(1e-4));
        long nf4 = 0, dense = 0, train = 0;
        for (Module m : model.namedModules().values()) if (m instanceof Nf4Linear q) nf4 += q.weight().bytes();
        for (Parameter p : model.parameters()) { dense += p.numel() * p.dtype().byteSize(); if (p.requiresGrad()) train += p.numel(); }
        Generator g = new Generator(3);
        Tensor x = Tensor.randint(g, 0, 256, batch, context), y = Tensor.randint(g, 0, 256, batch, context);
        for (int i = 0; i < 2; i++) step(model, opt, x, y);
        CpuMemory.reclaim();            // QLoRA's replaced dense weights are garbage now: take them back before measuring
        CpuMemory.emptyCache();
        System.gc();
        CpuMemory.resetPeak();
        resetPeakRss();
        double[] times = new double[steps];
        for (int i = 0; i < steps; i++) {
            long start = System.nanoTime();
            step(model, opt, x, y);
            times[i] = (System.nanoTime() - start) / 1e6;
        }
        java.util.Arrays.sort(times);
        double ms = times[steps / 2];                                       // the median: the machine is shared, a mean would carry others' bursts
        double weights = (dense + nf4) / 1048576.0;
        double state = (dense + nf4 + train * 4L * 3) / 1048576.0;         // + gradients and AdamW's two moments (float32)
        double tensorPeak = (CpuMemory.stats().peak() + nf4) / 1048576.0;
        System.out.printf(Locale.ROOT, "RESULT %d %.3f %.3f %.3f %.1f %.2f%n", train, weights, state, tensorPeak, peakRssMiB(), ms);
    }

    private static void step(Module model, AdamW opt, Tensor x, Tensor y) {
        try (var scope = Scope.open()) {
            Tensor loss = Losses.crossEntropy(model.forward(x), y);
            opt.zeroGrad();
            loss.backward();
            opt.step();
        }
    }

    /** Resets VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs); harmless where refused. */
    private static void resetPeakRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | SecurityException e) {
            System.out.println("(peak RSS not reset: " + e.getMessage() + ")");
        }
    }

    private static double peakRssMiB() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
        throw new IllegalStateException("QloraBench: no VmHWM in /proc/self/status");
    }
}
