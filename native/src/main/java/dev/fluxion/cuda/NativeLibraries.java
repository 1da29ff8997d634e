package dev.fluxion.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The NVIDIA libraries the CUDA backend loads from the host (the Maven jars carry only the JNI glue): what
 * each one is, where it was loaded from (/proc/self/maps) or found on disk, and how to get it.
 */
final class NativeLibraries {
    private NativeLibraries() {}

    /** A shared library by file name, what it provides and how to install it. */
    record Lib(String file, String label, String what, String install) {}

    static final Lib DRIVER = new Lib("libcuda.so.1", "CUDA driver", "the NVIDIA driver", "install the NVIDIA driver, version 580 or newer (CUDA 13)");
    static final Lib RUNTIME = new Lib("libcudart.so.13", "CUDA runtime", "the CUDA 13 runtime",
            "install the CUDA 13 toolkit (/usr/local/cuda/lib64), or `pip install nvidia-cuda-runtime` and add its lib folder to LD_LIBRARY_PATH");
    static final Lib CUBLAS = new Lib("libcublas.so.13", "cuBLAS", "cuBLAS 13",
            "install the CUDA 13 toolkit's cuBLAS (apt: libcublas-13-0), or `pip install nvidia-cublas` and add its lib folder to LD_LIBRARY_PATH");
    static final Lib CUBLASLT = new Lib("libcublasLt.so.13", "cuBLASLt", "cuBLASLt 13", CUBLAS.install());
    static final Lib CUDNN = new Lib("libcudnn.so.9", "cuDNN", "cuDNN 9",
            "install cuDNN 9 for CUDA 13 (apt: cudnn9-cuda-13), or `pip install nvidia-cudnn-cu13` and add its lib folder to LD_LIBRARY_PATH");
    static final Lib NCCL = new Lib("libnccl.so.2", "NCCL", "NCCL 2", "install NCCL 2 (apt: libnccl2), or `pip install nvidia-nccl-cu13` and add its lib folder to LD_LIBRARY_PATH");
    static final Lib NVRTC = new Lib("libnvrtc.so.13", "NVRTC", "NVRTC 13", "install the CUDA 13 toolkit, or `pip install nvidia-cuda-nvrtc`");

    static final List<Lib> ALL = List.of(DRIVER, RUNTIME, CUBLAS, CUBLASLT, CUDNN, NCCL, NVRTC);

    static final String LIB_PATH_HINT = "bin/cuda-lib-path (in Fluxion's repository and in the GPU bundle) prints the LD_LIBRARY_PATH entries for the CUDA libraries it finds on this host";

    private static final java.util.Map<Class<?>, String> LOADED = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Loads a JavaCPP preset class (e.g. org.bytedeco.cuda.global.cublas) once; null on success, else a one-line
     * reason. The outcome is kept because a second attempt only sees NoClassDefFoundError, not the missing library.
     */
    static String load(Class<?> preset, String label) {
        String r = LOADED.computeIfAbsent(preset, c -> {
            try {
                org.bytedeco.javacpp.Loader.load(c);
                return "";
            } catch (RuntimeException | LinkageError e) {
                return CudaBackendProvider.describeLoadFailure(label, e);
            }
        });
        return r.isEmpty() ? null : r;
    }

    /** "the NVIDIA driver (libcuda.so.1) was not found on the library path; install ...". */
    static String explainMissing(String file) {
        for (Lib l : ALL)
            if (l.file().equals(file)) return l.what() + " (" + file + ") was not found on the library path; " + l.install();
        if (file.startsWith("libcudnn")) return CUDNN.what() + " (" + file + ") was not found on the library path; " + CUDNN.install();
        if (file.startsWith("libnvrtc")) return NVRTC.what() + " (" + file + ") was not found on the library path; " + NVRTC.install();
        return file + " was not found on the library path";
    }

    /** The file this process mapped for a library name (after it was loaded), from /proc/self/maps. */
    static Optional<String> loadedPath(String file) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int slash = line.indexOf('/');
                if (slash < 0) continue;
                String path = line.substring(slash).trim();
                String name = path.substring(path.lastIndexOf('/') + 1);
                if (name.equals(file) || name.startsWith(file + ".")) return Optional.of(path);
            }
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    /** Where the library lies on disk, by LD_LIBRARY_PATH, the linker cache and the usual CUDA folders. */
    static Optional<Path> find(String file) {
        for (String dir : searchDirs()) {
            Path p = Path.of(dir, file);
            if (Files.exists(p)) return Optional.of(p);
        }
        return linkerCache(file);
    }

    static List<String> searchDirs() {
        Set<String> dirs = new LinkedHashSet<>();
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) for (String d : ld.split(":")) if (!d.isBlank()) dirs.add(d);
        dirs.addAll(List.of("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu",
                "/usr/lib64", "/lib/x86_64-linux-gnu", "/usr/lib/wsl/lib"));
        return new ArrayList<>(dirs);
    }

    private static Optional<Path> linkerCache(String file) {
        for (String ldconfig : List.of("/sbin/ldconfig", "/usr/sbin/ldconfig")) {
            if (!Files.isExecutable(Path.of(ldconfig))) continue;
            try {
                Process p = new ProcessBuilder(ldconfig, "-p").redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes());
                p.waitFor(5, TimeUnit.SECONDS);
                for (String line : out.split("\n")) {
                    String t = line.trim();
                    if (t.startsWith(file + " ") && t.contains("=> ")) return Optional.of(Path.of(t.substring(t.indexOf("=> ") + 3).trim()));
                }
            } catch (IOException | RuntimeException e) {
                return Optional.empty();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Optional.empty();
            }
        }
        return Optional.empty();
    }

    /** "13.1.2" from cuBLAS/cuDNN/NCCL style version numbers (major * 10000 + minor * 100 + patch). */
    static String version(long v) {
        return (v / 10000) + "." + (v % 10000) / 100 + "." + (v % 100);
    }

    /** "13.1" from a CUDA driver/runtime version (major * 1000 + minor * 10). */
    static String cudaVersion(int v) {
        return (v / 1000) + "." + (v % 1000) / 10;
    }
}
