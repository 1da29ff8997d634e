package dev.fluxion.parallel.nccl;

import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Whether the NCCL backend can run here, found without touching a class that needs the CUDA presets (so a
 * CPU-only program never loads them).
 */
public final class Nccl {
    private Nccl() {}

    private static volatile String reason;
    private static volatile boolean checked;

    /** Empty when NCCL is usable; otherwise one line saying why not. */
    public static Optional<String> unavailableReason() {
        if (!checked) {
            synchronized (Nccl.class) {
                if (!checked) { reason = probe(); checked = true; }
            }
        }
        return Optional.ofNullable(reason);
    }

    private static String probe() {
        try {
            Class.forName("org.bytedeco.cuda.global.nccl", true, Nccl.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            return "the NCCL bindings (org.bytedeco:cuda) are not on the classpath";
        } catch (Throwable e) {   // UnsatisfiedLinkError and friends: no driver, no libnccl.so.2, no GPU
            return "NCCL did not load: " + e;
        }
        try {
            int[] n = new int[1];
            int rc = (int) Class.forName("org.bytedeco.cuda.global.cudart").getMethod("cudaGetDeviceCount", int[].class).invoke(null, (Object) n);
            if (rc != 0 || n[0] == 0) return "no CUDA device (cudaGetDeviceCount returned " + rc + ", " + n[0] + " devices)";
        } catch (Throwable e) {
            return "the CUDA runtime did not load: " + e;
        }
        return null;
    }

    /** The CUDA backend's bridge, if the native module provides one. */
    public static Optional<CudaTensors> cudaTensors() {
        return ServiceLoader.load(CudaTensors.class).findFirst();
    }
}
