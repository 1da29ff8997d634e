package dev.fluxion.cuda;

import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;

import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.ConcurrentHashMap;

import static org.bytedeco.cuda.global.cudart.cuLaunchKernel;
import static org.bytedeco.cuda.global.cudart.cuModuleGetFunction;
import static org.bytedeco.cuda.global.cudart.cuModuleLoadData;

/**
 * The kernels of {@code native/src/main/cuda}, compiled by nvcc at build time into one fatbin resource,
 * loaded into a device's context with cuModuleLoadData and launched by name with cuLaunchKernel.
 */
final class Kernels {
    static final String RESOURCE = "/dev/fluxion/cuda/kernels.fatbin";
    static final int THREADS = 256;

    private final CudaDevice device;
    private final CUmod_st module = new CUmod_st();
    private final ConcurrentHashMap<String, CUfunc_st> functions = new ConcurrentHashMap<>();

    Kernels(CudaDevice device, byte[] fatbin) {
        this.device = device;
        try (BytePointer image = new BytePointer(fatbin)) {
            Cuda.check(cuModuleLoadData(module, image), "cuModuleLoadData(" + RESOURCE + ") on " + device);
        }
    }

    /** The fatbin bytes, or null when the jar was built without nvcc. */
    static byte[] fatbin() {
        try (InputStream in = Kernels.class.getResourceAsStream(RESOURCE)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            return null;
        }
    }

    CUfunc_st function(String name) {
        return functions.computeIfAbsent(name, n -> {
            CUfunc_st f = new CUfunc_st();
            Cuda.check(cuModuleGetFunction(f, module, n), "cuModuleGetFunction(" + n + ")");
            return f;
        });
    }

    /** Blocks for a grid-stride loop over n elements: enough to fill the GPU, no more. */
    int blocks(long n) {
        long b = (n + THREADS - 1) / THREADS;
        return (int) Math.max(1, Math.min(b, (long) device.multiprocessors * 16));
    }

    /** A 1-D launch of THREADS threads per block over n elements. */
    void launch(String name, long n, KernelArgs args) {
        launch(name, blocks(n), 1, 1, THREADS, 1, 1, args);
    }

    /** Launches so far per kernel name (for tests that prove a fused path ran). */
    private final java.util.concurrent.ConcurrentHashMap<String, java.util.concurrent.atomic.LongAdder> launches = new java.util.concurrent.ConcurrentHashMap<>();

    /** How many launches of kernels whose name starts with prefix this device has enqueued. */
    long launches(String prefix) {
        long n = 0;
        for (var e : launches.entrySet()) if (e.getKey().startsWith(prefix)) n += e.getValue().sum();
        return n;
    }

    void launch(String name, int gx, int gy, int gz, int bx, int by, int bz, KernelArgs args) {
        launches.computeIfAbsent(name, k -> new java.util.concurrent.atomic.LongAdder()).increment();
        device.makeCurrent();
        CUfunc_st f = function(name);
        int r = cuLaunchKernel(f, gx, gy, gz, bx, by, bz, 0, device.stream, args.slots, (PointerPointer<?>) null);
        args.release();
        Cuda.check(r, "cuLaunchKernel(" + name + ", grid " + gx + "x" + gy + "x" + gz + ", block " + bx + "x" + by + "x" + bz + ") on " + device);
    }
}
