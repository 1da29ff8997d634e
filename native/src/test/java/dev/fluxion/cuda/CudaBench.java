package dev.fluxion.cuda;

import dev.fluxion.tensor.Backends;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * A quick throughput table for a GPU host (run by the bundle's {@code fluxion-gpu bench}; not a unit test):
 * elementwise and reduction kernels as a fraction of the device-to-device copy bandwidth (DESIGN.md targets
 * >= 80%), and GEMM TFLOP/s per dtype. The side-by-side comparison with PyTorch belongs to the bench module.
 */
@SuppressWarnings("try")   // scopes opened only to close what the block creates
public final class CudaBench {
    private CudaBench() {}

    public static void main(String[] args) {
        List<Device> gpus = Backends.devices().stream().filter(d -> d.kind() == Device.Kind.CUDA).toList();
        if (gpus.isEmpty()) {
            System.out.println("CudaBench: no CUDA device: " + String.join("; ", Backends.unavailableReasons()));
            return;
        }
        Device gpu = gpus.get(0);
        CudaBackend be = CudaBackend.of(gpu);
        System.out.println("CudaBench on " + gpu + " (" + be.name() + ", sm_" + be.computeCapability().replace(".", "") + ")");
        Generator g = new Generator(1);
        int n = 1 << 26;                                                    // 64 Mi elements: 256 MiB of float32
        Tensor a = Tensor.rand(g, 1 << 20).to(gpu).expand(64, 1 << 20).contiguous().reshape(n);
        Tensor b = a.mul(0.5);
        double copy = bandwidth(be, () -> a.copy(), 2L * n * 4);
        row("copy (device to device)", copy, copy);
        row("add", bandwidth(be, () -> a.add(b), 3L * n * 4), copy);
        row("mul by scalar", bandwidth(be, () -> a.mul(3.0), 2L * n * 4), copy);
        row("gelu", bandwidth(be, a::gelu, 2L * n * 4), copy);
        row("add broadcast [8192, 8192] + [8192]", bandwidth(be, () -> a.reshape(8192, 8192).add(b.slice(0, 0, 8192)), 2L * n * 4), copy);
        row("float32 -> bfloat16", bandwidth(be, () -> a.to(DType.BFLOAT16), (long) n * 6), copy);
        row("sum (all)", bandwidth(be, a::sum, (long) n * 4), copy);
        row("sum over rows [8192, 8192] dim 1", bandwidth(be, () -> a.reshape(8192, 8192).sum(1, false), (long) n * 4), copy);
        row("sum over columns [8192, 8192] dim 0", bandwidth(be, () -> a.reshape(8192, 8192).sum(0, false), (long) n * 4), copy);
        row("softmax [8192, 8192] dim 1", bandwidth(be, () -> a.reshape(8192, 8192).softmax(1), 2L * n * 4), copy);
        for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16}) {
            int m = 8192;
            Tensor x = Tensor.randn(g, 1024, 1024).to(gpu).expand(8, 8, 1024, 1024).permute(0, 2, 1, 3).reshape(m, m).to(dt);
            Tensor y = x.t().contiguous();
            double tflops = 2.0 * m * m * m / seconds(be, () -> x.matmul(y)) / 1e12;
            System.out.printf(Locale.ROOT, "  %-40s %8.1f TFLOP/s%n", "matmul 8192^3 " + dt, tflops);
        }
        CudaBackend.setAllowTf32(true);
        Tensor x = Tensor.randn(g, 4096, 4096).to(gpu);
        System.out.printf(Locale.ROOT, "  %-40s %8.1f TFLOP/s%n", "matmul 4096^3 float32 (TF32)", 2.0 * 4096 * 4096 * 4096 / seconds(be, () -> x.matmul(x)) / 1e12);
        System.out.println("  memory: " + be.memoryStats());
    }

    private static void row(String what, double gbs, double copy) {
        System.out.printf(Locale.ROOT, "  %-40s %8.1f GB/s  %5.0f%% of copy%n", what, gbs, 100 * gbs / copy);
    }

    private static double bandwidth(CudaBackend be, Supplier<Tensor> op, long bytes) {
        return bytes / seconds(be, op) / 1e9;
    }

    /** Median-free but warm: 3 warm-up runs, then the mean of 20, each result closed at once. */
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
