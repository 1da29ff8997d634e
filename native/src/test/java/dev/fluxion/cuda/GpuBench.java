package dev.fluxion.cuda;

import dev.fluxion.nn.Functional;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.optim.AdamW;
import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.Backends;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The Fluxion half of the one-shot GPU comparison with PyTorch (gpu-check.sh; bench_torch.py measures the same
 * cases with torch): one tab-separated line per case, {@code case value unit}, on stdout and in the file given.
 * Cases: device-to-device copy and elementwise GB/s (bytes read + written), 8192^3 GEMM TFLOP/s in bfloat16,
 * float16 and float32 (no TF32, as torch's default), conv2d 3x3 forward + backward TFLOP/s in bfloat16 and float32
 * (cuDNN; N=64, 64 -> 128 channels, 56x56), causal attention forward + backward TFLOP/s in bfloat16 (8, 12, 1024, 64:
 * GPT-2 small's), and a GPT-2-small (124M) training step under bfloat16
 * autocast with AdamW (batch 8 x 1024 tokens) in tokens/s. Not a unit test: timings are printed, not asserted.
 *
 * <pre>fluxion-gpu run dev.fluxion.cuda.GpuBench [OUT.tsv] [--quick]</pre>
 */
@SuppressWarnings("try")
public final class GpuBench {
    private GpuBench() {}

    public static void main(String[] args) throws IOException {
        Path out = args.length > 0 && !args[0].startsWith("--") ? Path.of(args[0]) : null;
        boolean quick = List.of(args).contains("--quick");
        List<Device> gpus = Backends.devices().stream().filter(d -> d.kind() == Device.Kind.CUDA).toList();
        if (gpus.isEmpty()) {
            System.out.println("GpuBench: no CUDA device: " + String.join("; ", Backends.unavailableReasons()));
            System.exit(3);
        }
        Device gpu = gpus.get(0);
        CudaBackend be = CudaBackend.of(gpu);
        try (PrintStream file = out == null ? null : new PrintStream(Files.newOutputStream(out))) {
            Row row = (name, value, unit) -> {
                String line = String.format(Locale.ROOT, "%s\t%.3f\t%s", name, value, unit);
                System.out.println(line);
                if (file != null) file.println(line);
            };
            Generator g = new Generator(1);
            int n = 1 << 28;                                               // 256 Mi float32: 1 GiB, well past the 60 MB L2
            Tensor a = Tensor.rand(g, 1 << 20).to(gpu).expand(256, 1 << 20).contiguous().reshape(n), b = a.mul(0.5);
            row.put("copy_fp32_GBs", (2.0 * n * 4) / seconds(be, a::copy) / 1e9, "GB/s");
            row.put("add_fp32_GBs", (3.0 * n * 4) / seconds(be, () -> a.add(b)) / 1e9, "GB/s");
            row.put("mul_scalar_fp32_GBs", (2.0 * n * 4) / seconds(be, () -> a.mul(3.0)) / 1e9, "GB/s");
            row.put("gelu_fp32_GBs", (2.0 * n * 4) / seconds(be, a::gelu) / 1e9, "GB/s");
            row.put("dropout_fp32_GBs", 9.0 * n / seconds(be, () -> Functional.dropout(a, 0.1, g)) / 1e9, "GB/s");   // x read, y + 1-byte mask written
            a.close();
            b.close();
            CudaBackend.setAllowTf32(false);
            for (DType dt : new DType[] {DType.BFLOAT16, DType.FLOAT16, DType.FLOAT32}) {
                int m = 8192;
                Tensor x = Tensor.randn(g, m, m).to(gpu).to(dt), y = Tensor.randn(g, m, m).to(gpu).to(dt);
                row.put("matmul8192_" + name(dt) + "_TFLOPs", 2.0 * m * m * m / seconds(be, () -> x.matmul(y)) / 1e12, "TFLOP/s");
                x.close();
                y.close();
            }
            // the goal rows first: a run cut short by its time limit still has them (each row is written as it is measured)
            row.put("gpt2_small_bf16_step_tokens_per_s", gpt2Step(gpu, be, quick), "tokens/s");
            for (DType dt : new DType[] {DType.BFLOAT16, DType.FLOAT32})
                row.put("conv3x3_fwdbwd_" + name(dt) + "_TFLOPs", convStep(gpu, be, dt), "TFLOP/s");
            row.put("attention_causal_fwdbwd_bf16_TFLOPs", attentionStep(gpu, be), "TFLOP/s");
        }
        System.out.println("  memory: " + be.memoryStats());
    }

    interface Row { void put(String name, double value, String unit); }

    private static String name(DType dt) {
        return switch (dt) { case BFLOAT16 -> "bf16"; case FLOAT16 -> "fp16"; default -> "fp32"; };
    }

    /**
     * conv2d forward + backward (dx and dweight, no bias) on x (64, 64, 56, 56), weight (128, 64, 3, 3), padding 1: cuDNN
     * through Conv2dOp (TF32 off for float32). FLOPs: 3 x 2 N O OH OW C kh kw (forward, input and weight gradients).
     */
    static double convStep(Device gpu, CudaBackend be, DType dt) {
        Generator g = new Generator(3);
        Tensor x = Tensor.randn(g, 64, 64, 56, 56).to(gpu).to(dt), w = Tensor.randn(g, 128, 64, 3, 3).to(gpu).to(dt).mul(0.05);
        Tensor gy = Tensor.randn(g, 64, 128, 56, 56).to(gpu).to(dt);
        double flops = 3 * 2.0 * 64 * 128 * 56 * 56 * 64 * 9;
        double s = seconds(be, () -> {
            Tensor xl = x.detach().requiresGrad(true), wl = w.detach().requiresGrad(true);
            Tensor y = dev.fluxion.nn.Functional.conv2d(xl, wl, null, 1, 1);
            y.backward(gy);
            return y;
        });
        x.close();
        w.close();
        gy.close();
        return flops / s / 1e12;
    }

    /**
     * Causal attention forward + backward, bfloat16, q, k, v (8, 12, 1024, 64) (GPT-2 small's): AttentionOp, the fused
     * kernels of attention.cu. FLOPs as FlashAttention's papers count them: 4 B H T^2 D forward, 2.5 times that backward,
     * halved for causal.
     */
    static double attentionStep(Device gpu, CudaBackend be) {
        Generator g = new Generator(4);
        int b = 8, h = 12, t = 1024, d = 64;
        Tensor q = Tensor.randn(g, b, h, t, d).to(gpu).to(DType.BFLOAT16), k = Tensor.randn(g, b, h, t, d).to(gpu).to(DType.BFLOAT16);
        Tensor v = Tensor.randn(g, b, h, t, d).to(gpu).to(DType.BFLOAT16), gy = Tensor.randn(g, b, h, t, d).to(gpu).to(DType.BFLOAT16);
        var op = new dev.fluxion.tensor.AttentionOp(1 / Math.sqrt(d), true, false, false);
        double s = seconds(be, () -> {
            Tensor ql = q.detach().requiresGrad(true), kl = k.detach().requiresGrad(true), vl = v.detach().requiresGrad(true);
            Tensor y = op.apply(ql, kl, vl);
            y.backward(gy);
            return y;
        });
        for (Tensor x : new Tensor[] {q, k, v, gy}) x.close();
        return 3.5 * 4.0 * b * h * t * t * d / 2 / s / 1e12;
    }

    /** A GPT-2-small training step (bf16 autocast, fp32 master weights, AdamW): tokens per second over timed steps. */
    static double gpt2Step(Device gpu, CudaBackend be, boolean quick) {
        int batch = quick ? 2 : 8, context = 1024;
        Gpt model = new Gpt(new Gpt.Config(50257, context, 12, 12, 768, 0.0), Init.seed(1).on(gpu));
        var opt = new AdamW(model.parameters(), AdamW.Config.DEFAULT.withLr(3e-4));
        Generator g = new Generator(2);
        Tensor x = Tensor.randint(g, 0, 50257, batch, context).to(gpu), y = Tensor.randint(g, 0, 50257, batch, context).to(gpu);
        Runnable step = () -> {
            try (var scope = Scope.open()) {
                Tensor loss;
                try (var ac = Autocast.open(DType.BFLOAT16)) { loss = Losses.crossEntropy(model.forward(x), y); }
                opt.zeroGrad();
                loss.backward();
                opt.step();
            }
        };
        for (int i = 0; i < 2; i++) step.run();
        be.synchronize();
        long t0 = System.nanoTime();
        int steps = 0;
        do { step.run(); steps++; be.synchronize(); } while (steps < 10 && System.nanoTime() - t0 < 20_000_000_000L);
        double s = (System.nanoTime() - t0) / 1e9;
        return (double) steps * batch * context / s;
    }

    /** Mean over 20 runs after 3 warm-ups, each result closed at once. */
    private static double seconds(CudaBackend be, Supplier<Tensor> op) {
        for (int i = 0; i < 3; i++) try (Scope s = Scope.open()) { op.get(); }
        be.synchronize();
        int reps = 20;
        long t0 = System.nanoTime();
        for (int i = 0; i < reps; i++) try (Scope s = Scope.open()) { op.get(); }
        be.synchronize();
        return (System.nanoTime() - t0) / 1e9 / reps;
    }
}
