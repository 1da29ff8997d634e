package dev.fluxion.cuda;

import dev.fluxion.tensor.Backends;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.cpu.CpuBackend;
import org.bytedeco.javacpp.Loader;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The environment check: what Fluxion finds on this machine (Java, CPU vectors, OpenBLAS, the CUDA driver and
 * runtime, each GPU, cuBLAS, cuDNN, NCCL), which device programs will use and why, and how to get what is
 * missing. It never fails: each line says what it found or why not.
 *
 * <pre>
 * java -cp ... dev.fluxion.cuda.Doctor [--require-gpu]
 * </pre>
 * With {@code --require-gpu} it exits with status 1 when no CUDA device is usable (for scripts).
 */
public final class Doctor {
    private final PrintStream out;
    private final List<String> todo = new ArrayList<>();

    Doctor(PrintStream out) { this.out = out; }

    public static void main(String[] args) {
        boolean requireGpu = List.of(args).contains("--require-gpu");
        boolean gpu = new Doctor(System.out).run();
        if (requireGpu && !gpu) System.exit(1);
    }

    /** Prints the report; returns true when a CUDA device is usable. */
    boolean run() {
        out.println("Fluxion environment check");
        line("Java", () -> System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ", " + System.getProperty("java.vm.name") + ") at "
                + System.getProperty("java.home"));
        line("CPU", () -> Runtime.getRuntime().availableProcessors() + " cores; " + vectorWidth());
        line("OpenBLAS", CpuBackend::blasInfo);
        String presets = CudaBackendProvider.loadPresets();
        line("CUDA presets", () -> "org.bytedeco:cuda 13.1-9.19 (JavaCPP " + javacppVersion() + "): JNI glue only; the NVIDIA libraries come from the host");
        if (presets != null) {
            line("CUDA driver", () -> "not loaded: " + presets);
            todo.add(presets);
            for (NativeLibraries.Lib lib : List.of(NativeLibraries.RUNTIME, NativeLibraries.CUBLAS, NativeLibraries.CUDNN, NativeLibraries.NCCL))
                line(lib.label(), () -> "not checked without the driver; " + NativeLibraries.find(lib.file()).map(p -> "on disk at " + p)
                        .orElseGet(() -> { todo.add(lib.what() + ": " + lib.install()); return lib.file() + " not found on this host"; }));
        } else {
            cuda();
        }
        line("Kernels", () -> {
            byte[] f = Kernels.fatbin();
            if (f != null) return Kernels.RESOURCE + " (" + f.length / 1024 + " KiB: sm_80 (also run by 8.6, 8.9) and sm_90 SASS + compute_90 PTX)";
            todo.add("rebuild fluxion-native from a checkout whose native/src/main/cuda/prebuilt matches the kernel sources, or with the CUDA 13 toolkit's nvcc on PATH");
            return "missing: fluxion-native was built from changed kernel sources without nvcc";
        });
        boolean gpu = device();
        if (!todo.isEmpty()) {
            out.println("To get what is missing:");
            for (String t : todo) out.println("  - " + t);
            out.println("  - " + NativeLibraries.LIB_PATH_HINT + ": export LD_LIBRARY_PATH=\"$(bin/cuda-lib-path)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\"");
        }
        return gpu;
    }

    private void line(String label, Supplier<String> value) {
        String v;
        try {
            v = value.get();
        } catch (RuntimeException | LinkageError e) {
            v = "unavailable (" + CudaBackendProvider.firstLine(e) + ")";
        }
        out.printf("  %-13s %s%n", label, v);
    }

    private static String javacppVersion() {
        try {
            return Loader.getVersion();
        } catch (java.io.IOException e) {
            return "version unknown";
        }
    }

    private static String vectorWidth() {
        try {
            var s = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
            return "Vector API " + s.vectorBitSize() + "-bit (" + s.length() + " float lanes)";
        } catch (LinkageError e) {
            return "Vector API not enabled: CPU kernels run as scalar loops, same results (add --add-modules jdk.incubator.vector to the java command for the fast path)";
        }
    }

    /** Driver, runtime, GPUs and the libraries that come from the host. Presets are loaded here. */
    private void cuda() {
        line("CUDA driver", () -> {
            int[] v = new int[1];
            Cuda.check(org.bytedeco.cuda.global.cudart.cuDriverGetVersion(v), "cuDriverGetVersion");
            return "CUDA " + NativeLibraries.cudaVersion(v[0]) + " (" + where(NativeLibraries.DRIVER) + ")";
        });
        line("CUDA runtime", () -> {
            int[] v = new int[1];
            int r = org.bytedeco.cuda.global.cudart.cudaRuntimeGetVersion(v);
            return r == 0 ? NativeLibraries.cudaVersion(v[0]) + " (" + where(NativeLibraries.RUNTIME) + ")" : "cudaRuntimeGetVersion failed: error " + r;
        });
        line("GPUs", this::gpus);
        library("cuBLAS", NativeLibraries.CUBLAS, org.bytedeco.cuda.global.cublas.class, () -> {
            int[] v = new int[1];
            org.bytedeco.cuda.global.cublas.cublasGetVersion(v);
            return NativeLibraries.version(v[0]) + ", cuBLASLt " + NativeLibraries.version(org.bytedeco.cuda.global.cublas.cublasLtGetVersion());
        });
        library("cuDNN", NativeLibraries.CUDNN, org.bytedeco.cuda.global.cudnn.class, () -> NativeLibraries.version(org.bytedeco.cuda.global.cudnn.cudnnGetVersion())
                + (Cudnn.enabled() ? "; conv2d and avg_pool2d run on it" : "; switched off (-Dfluxion.cuda.cudnn=false): conv2d and avg_pool2d use im2col + cuBLAS"));
        library("NCCL", NativeLibraries.NCCL, org.bytedeco.cuda.global.nccl.class, () -> {
            int[] v = new int[1];
            org.bytedeco.cuda.global.nccl.ncclGetVersion(v);
            return NativeLibraries.version(v[0]);
        });
    }

    private String gpus() {
        int r = org.bytedeco.cuda.global.cudart.cuInit(0);
        if (r != 0) {
            todo.add("make a GPU visible to this process (cuInit: " + Cuda.errorName(r) + "; check nvidia-smi, CUDA_VISIBLE_DEVICES, container GPU flags)");
            return "none usable: cuInit failed with " + Cuda.errorName(r);
        }
        int[] n = new int[1];
        Cuda.check(org.bytedeco.cuda.global.cudart.cuDeviceGetCount(n), "cuDeviceGetCount");
        if (n[0] == 0) return "none";
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n[0]; i++) {
            CudaDevice.Info info = CudaDevice.info(i);
            b.append(i == 0 ? "" : "\n                ").append("cuda:").append(i).append(' ').append(info.name()).append(", ")
                    .append(MemoryStats.human(info.totalMemory())).append(", compute capability ").append(info.major()).append('.').append(info.minor())
                    .append(", ").append(info.multiprocessors()).append(" SMs");
            if (info.major() < CudaBackendProvider.MIN_MAJOR) b.append(" (too old for Fluxion's kernels: needs 8.0+)");
        }
        return b.toString();
    }

    private void library(String label, NativeLibraries.Lib lib, Class<?> preset, Supplier<String> version) {
        line(label, () -> {
            String why = NativeLibraries.load(preset, label);
            if (why == null) return version.get() + " (" + where(lib) + ")";
            todo.add(lib.what() + ": " + lib.install());
            Optional<java.nio.file.Path> onDisk = NativeLibraries.find(lib.file());
            return "not loaded: " + why + onDisk.map(p -> " (a copy exists at " + p + ": add its folder to LD_LIBRARY_PATH)").orElse("");
        });
    }

    private static String where(NativeLibraries.Lib lib) {
        return NativeLibraries.loadedPath(lib.file()).map(p -> "from " + p).orElse(lib.file());
    }

    /** Which device Device.best() gives and why. */
    private boolean device() {
        List<Device> devices = new ArrayList<>();
        line("Devices", () -> {
            devices.addAll(Backends.devices());
            return devices.toString();
        });
        boolean gpu = devices.stream().anyMatch(d -> d.kind() == Device.Kind.CUDA);
        line("Programs use", () -> {
            if (gpu) {
                Device best = Device.best();
                return best + " (Device.best(): the first usable GPU; "
                        + (Backends.of(best) instanceof CudaBackend c ? c.name() + ", sm_" + c.computeCapability().replace(".", "") : "") + ")";
            }
            List<String> why = Backends.unavailableReasons();
            return "cpu, because " + (why.isEmpty() ? "no CUDA backend is on the classpath" : String.join("; ", why));
        });
        return gpu;
    }
}
