package dev.fluxion.cuda;

import dev.fluxion.tensor.Backend;
import dev.fluxion.tensor.BackendProvider;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.bytedeco.cuda.global.cudart.cuDeviceGetCount;
import static org.bytedeco.cuda.global.cudart.cuInit;

/**
 * Registers one {@link CudaBackend} per usable GPU (META-INF/services/dev.fluxion.tensor.BackendProvider).
 * Without a driver, a GPU, the CUDA 13 runtime or the compiled kernels it returns no backends and one line
 * saying which is missing; it never throws and never prints. Discovery runs once per JVM.
 * {@code -Dfluxion.cuda.disable=true} turns the CUDA backend off.
 */
public final class CudaBackendProvider implements BackendProvider {
    /** Compute capability the fatbin has SASS or PTX for (sm_80 and newer). */
    static final int MIN_MAJOR = 8;

    private static final class Discovery {
        static final List<Backend> BACKENDS = new ArrayList<>();
        static final List<String> PROBLEMS = new ArrayList<>();

        static {
            try {
                discover();
                if (!BACKENDS.isEmpty()) CudaFusedKernels.register();
            } catch (RuntimeException | LinkageError e) {
                PROBLEMS.add("CUDA backend failed to start: " + firstLine(e));
            }
        }

        private static void discover() {
            if (Boolean.getBoolean("fluxion.cuda.disable")) { PROBLEMS.add("CUDA disabled by -Dfluxion.cuda.disable=true"); return; }
            String failure = loadPresets();
            if (failure != null) { PROBLEMS.add(failure); return; }
            int r = cuInit(0);
            if (r != Cuda.SUCCESS) { PROBLEMS.add(initFailure(r)); return; }
            int[] count = new int[1];
            Cuda.check(cuDeviceGetCount(count), "cuDeviceGetCount");
            if (count[0] == 0) { PROBLEMS.add("CUDA: the driver loaded but reports no GPU"); return; }
            byte[] fatbin = Kernels.fatbin();
            if (fatbin == null) {
                PROBLEMS.add("CUDA: fluxion-native was built without nvcc, so it carries no kernels (rebuild with the CUDA 13 toolkit on PATH)");
                return;
            }
            for (int i = 0; i < count[0]; i++) {
                try {
                    CudaDevice.Info info = CudaDevice.info(i);
                    if (info.major() < MIN_MAJOR) {
                        PROBLEMS.add("CUDA: cuda:" + i + " (" + info.name() + ") has compute capability " + info.major() + "." + info.minor()
                                + "; Fluxion's kernels need 8.0 (Ampere) or newer");
                        continue;
                    }
                    BACKENDS.add(new CudaBackend(new CudaDevice(i, fatbin)));
                } catch (CudaException e) {
                    PROBLEMS.add("CUDA: cuda:" + i + " unusable: " + e.getMessage());
                }
            }
        }
    }

    /** Null when the JavaCPP CUDA presets (driver + runtime) loaded, else why not. */
    static String loadPresets() { return NativeLibraries.load(org.bytedeco.cuda.global.cudart.class, "CUDA"); }

    private static String initFailure(int r) {
        return switch (r) {
            case 100 -> "CUDA: no NVIDIA GPU found (cuInit: CUDA_ERROR_NO_DEVICE)";
            case 35 -> "CUDA: the NVIDIA driver is too old for the CUDA 13 runtime (cuInit: CUDA_ERROR_INSUFFICIENT_DRIVER); install driver 580 or newer";
            case 999 -> "CUDA: cuInit failed with CUDA_ERROR_UNKNOWN (often a driver/kernel-module mismatch or a container without GPU access)";
            default -> "CUDA: cuInit failed: " + Cuda.errorName(r);
        };
    }

    private static final Pattern MISSING = Pattern.compile("(lib[\\w.+-]+?\\.so[.\\d]*): cannot open shared object file");

    /** One line naming the library that could not be loaded and what provides it. */
    static String describeLoadFailure(String what, Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            Matcher m = MISSING.matcher(String.valueOf(c.getMessage()));
            if (m.find()) return what + ": " + NativeLibraries.explainMissing(m.group(1));
        }
        return what + ": native libraries failed to load: " + firstLine(e);
    }

    static String firstLine(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null) root = root.getCause();
        String m = root.getClass().getSimpleName() + ": " + root.getMessage();
        int nl = m.indexOf('\n');
        m = nl < 0 ? m : m.substring(0, nl);
        return m.length() > 300 ? m.substring(0, 300) + "..." : m;
    }

    @Override public List<Backend> backends() { return List.copyOf(Discovery.BACKENDS); }

    @Override public Optional<String> unavailableReason() {
        if (Discovery.PROBLEMS.isEmpty()) return Optional.empty();
        return Optional.of(String.join("; ", Discovery.PROBLEMS) + (Discovery.BACKENDS.isEmpty() ? " (details: java dev.fluxion.cuda.Doctor)" : ""));
    }
}
