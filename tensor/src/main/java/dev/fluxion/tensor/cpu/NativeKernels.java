package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.UnaryOp;

import java.io.IOException;
import java.io.InputStream;
import java.nio.Buffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The hot float32 kernels in C ({@code tensor/src/main/c/fluxion_cpu.c}, built into the jar as
 * {@code libfluxion_cpu.so} for linux-x86_64), used ahead of the Vector API bodies when {@link #ENABLED}.
 *
 * <p>Why: on JDK 17, C2 compiles a Vector API loop to SIMD only when the run's profiles and inlining decisions
 * line up. After other vector code got hot first (a plain add and mul were enough), the same GELU or exp body
 * boxed every vector: hundreds of MB of garbage per GPT step and 5-20x slower kernels, decided by timing, with
 * no JVM flag a library could set. The C loops are compiled ahead of time and behave the same on every run.
 * Each computes every element with the same float operations in the same order as the Java loops, so results
 * are bitwise equal with or without the library ({@code NativeKernelsTest}).
 *
 * <p>{@code -Dfluxion.native=false} turns the C kernels off (the library still loads, see {@link #LOADED}); on other platforms, or when it is missing, the Java
 * kernels run (one line on stderr says so where the library should have been).
 */
final class NativeKernels {
    private NativeKernels() {}

    /**
     * Whether libfluxion_cpu.so is loaded. It loads even under {@code -Dfluxion.native=false}, which only turns
     * its kernels off: {@link OpenBlasCore} still uses it to pick the same OpenBLAS kernels, so GEMMs give the
     * same bits with the Java kernels as with the C ones.
     */
    static final boolean LOADED = load();

    /** Whether the C kernels run (the library loaded and {@code -Dfluxion.native} is not false). */
    static final boolean ENABLED = LOADED && Boolean.parseBoolean(System.getProperty("fluxion.native", "true"));

    private static final String PLATFORM = "linux-x86_64";

    private static boolean load() {
        String os = System.getProperty("os.name", ""), arch = System.getProperty("os.arch", "");
        if (!os.equals("Linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) return false;
        String dir = PLATFORM + "/";
        try (InputStream lib = NativeKernels.class.getResourceAsStream(dir + "libfluxion_cpu.so");
             InputStream hash = NativeKernels.class.getResourceAsStream(dir + "sources.sha256")) {
            if (lib == null || hash == null) {
                System.err.println("Fluxion: this build has no native CPU kernels (libfluxion_cpu.so); the Java kernels run (same results, slower)");
                return false;
            }
            Path tmp = Files.createTempFile("fluxion_cpu", ".so");
            try {
                Files.copy(lib, tmp, StandardCopyOption.REPLACE_EXISTING);
                System.load(tmp.toAbsolutePath().toString());
            } finally {
                Files.deleteIfExists(tmp);                                  // mapped already; nothing left behind
            }
            String expected = new String(hash.readAllBytes(), StandardCharsets.US_ASCII).trim();
            if (!expected.equals(sourcesHash()))
                throw new IllegalStateException("Fluxion: libfluxion_cpu.so was built from other sources (" + sourcesHash()
                        + ") than this jar's (" + expected + "); rebuild with tensor/src/main/c/build-cpu-kernels.sh");
            return true;
        } catch (IOException | UnsatisfiedLinkError e) {
            System.err.println("Fluxion: the native CPU kernels did not load (" + e + "); the Java kernels run (same results, slower)");
            return false;
        }
    }

    /** The native code of op, or -1 when it has none (the order of the enum in fluxion_cpu.c). */
    static int code(UnaryOp op) {
        return switch (op) {
            case NEG -> 0; case ABS -> 1; case SQRT -> 2; case RSQRT -> 3; case EXP -> 4; case LOG -> 5; case TANH -> 6;
            case RELU -> 7; case GELU -> 8; case SIGMOID -> 9; case SILU -> 10; case GELU_TANH -> 11; case GELU_GRAD -> 12;
            case GELU_TANH_GRAD -> 13; case SILU_GRAD -> 14;
            default -> -1;
        };
    }

    static int code(BinaryOp op) {
        return switch (op) {
            case ADD -> 0; case SUB -> 1; case MUL -> 2; case DIV -> 3; case EQ -> 4; case NE -> 5; case LT -> 6; case LE -> 7;
            case GT -> 8; case GE -> 9;
            default -> -1;
        };
    }

    /** y = op(x) over [0, n) (x may be y); returns n, or 0 when the code is unknown. */
    static native int unary(int code, float[] x, float[] y, int n);
    static native int binary(int code, float[] a, float[] b, float[] y, int n);
    static native double sum(float[] x, int n);
    static native double dot(float[] a, float[] b, int n);
    static native float max(float[] x, int n);
    /**
     * FloatKernels.softmaxRow in one call, or (logSoftmax) its steps up to the sum: v = x - max, the exps in tmp.
     * Returns the sum of the exps; log-softmax's caller subtracts (float) Math.log(sum) (Java's log, not libm's).
     */
    static native double softmaxRow(float[] v, int n, boolean logSoftmax, float[] tmp);
    static native void select(float[] cond, float[] a, float[] b, float[] y, int n);
    static native void accumulate(float[] x, float[] y, int n);

    /** CpuAdam's update of elements [0, n) from each element offset, in the direct buffers themselves (vmax may be null). */
    static native void adam(Buffer p, long po, Buffer g, long go, Buffer m, long mo, Buffer v, long vo, Buffer vmax, long xo, long n,
                            float b1, float omb1, float b2, float omb2, float eps, float wd, float decay, boolean l2,
                            boolean decoupled, float negStep, float bc2);

    /** CpuSgd's update of elements [0, n) from each element offset, in the direct buffers themselves (m may be null). */
    static native void sgd(Buffer p, long po, Buffer g, long go, Buffer m, long mo, long n, float wd, float mom, float omd,
                           float negLr, boolean decay, boolean damp, boolean first, boolean nesterov);

    /** y = op(x) over whole ranges of direct buffers (element offsets), blocks of 2048 in C; returns n, or 0 for an unknown code. */
    static native long unaryAt(int code, Buffer x, long xo, Buffer y, long yo, long n);
    static native long binaryAt(int code, Buffer a, long ao, Buffer b, long bo, Buffer y, long yo, long n);
    /** y = g * derivative(x) (derivative: a unary code), over a range of direct buffers. */
    static native void gradTimesDerivativeAt(int code, Buffer g, long go, Buffer x, long xo, Buffer y, long yo, long n);
    static native void reluBackwardAt(Buffer g, long go, Buffer out, long oo, Buffer y, long yo, long n);

    /** CpuAttention's forward row work on a block of scores (rows x n at the start of a direct buffer): see fluxion_cpu.c. */
    static native void attentionSoftmaxRows(Buffer scores, int rows, int n, int t0, boolean causal, int s, float[] maxOut, double[] sumOut);
    /** CpuAttention's backward weights from the scores and the rows' log-sum-exp (from element lo of lse). */
    static native void attentionWeightRows(Buffer scores, int rows, int n, int t0, boolean causal, int s, Buffer lse, long lo);
    /** dS = P (dP - rowsum(P dP)) scale in place over dP. */
    static native void attentionScoreGradRows(Buffer weights, Buffer dScores, int rows, int n, float scale);

    /** softmaxRow over rows [0, rows) of n contiguous floats, read from x and written to y (direct buffers, element offsets). */
    static native void softmaxRowsAt(Buffer x, long xo, Buffer y, long yo, long rows, int n);

    /** CpuReduce.sumLeading for float32: y[c] = sum over rows of x[r][c], for columns [c0, c0 + m) of a rows x cols matrix. */
    static native void sumLeadingAt(Buffer x, long xo, long rows, long cols, long c0, long m, Buffer y, long yo);

    /** CpuLayerNorm's forward row steps over rows [from, to) of c floats (direct buffers at element offsets). */
    static native void layerNormForwardRows(Buffer x, long xo, float[] w, float[] b, Buffer y, long yo, Buffer mean, long mo,
                                            Buffer rstd, long ro, long from, long to, int c, double eps);
    /** CpuLayerNorm's backward row steps over rows [from, to); dw and db: this piece's partial sums, added to. */
    static native void layerNormBackwardRows(Buffer x, long xo, Buffer g, long go, float[] w, Buffer mean, long mo, Buffer rstd, long ro,
                                             Buffer dx, long dxo, long from, long to, int c, float[] dw, float[] db);

    /** CpuWindows.max2x2At for every position q in [0, n - n % 8); returns where it stopped (the caller does the rest). */
    static native int max2x2(float[] x, int w, float[] m, float[] which, int n);

    /** CpuWindows.maxPoolBackward over planes of direct buffers; -1, or the first output whose index is outside its plane (dx untouched). */
    static native long maxPoolBackwardAt(Buffer g, long go, Buffer idx, long io, long planes, int outPlane, int plane, Buffer dx, long dxo);

    /** y[yOff + t] += x[xOff + t] for t in [0, len) (x and y different arrays). */
    static native void addInto(float[] x, int xOff, float[] y, int yOff, int len);

    static native String sourcesHash();

    /** setenv(name, value) unless name is set; true when it set it. */
    static native boolean setEnvIfUnset(String name, String value);

    /** The string the C function at address fn (no arguments, returning const char *) returns. */
    static native String callStringFunction(long fn);
}
