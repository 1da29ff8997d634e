package dev.fluxion.tensor.cpu;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;

/** OpenBLAS GEMM through the JavaCPP preset, on off-heap buffers so that no array is copied across JNI. */
final class Blas {
    private Blas() {}

    static final int ROW_MAJOR = openblas_nolapack.CblasRowMajor;
    static final int NO_TRANS = openblas_nolapack.CblasNoTrans;
    static final int TRANS = openblas_nolapack.CblasTrans;

    private static volatile int current = -1;

    /**
     * openblas_set_num_threads, looked up once. JavaCPP's blas_set_num_threads looks up four symbols and makes
     * a function pointer on every call (0.3-0.5 ms; a GPT step switched threads about 20 times); this call
     * costs well under a microsecond. Null when the symbol is absent: then the preset's call is used.
     */
    private static final SetThreads DIRECT = SetThreads.lookup();

    private static final class SetThreads extends openblas_nolapack.SetNumThreads {
        private SetThreads(org.bytedeco.javacpp.Pointer fn) { super(); put(fn); }

        static SetThreads lookup() {
            org.bytedeco.javacpp.Loader.load(openblas_nolapack.class);
            org.bytedeco.javacpp.Pointer fn = org.bytedeco.javacpp.Loader.addressof("openblas_set_num_threads");
            return fn == null || fn.isNull() ? null : new SetThreads(fn);
        }
    }

    static void setThreads(int n) {
        if (DIRECT != null) DIRECT.call(n);
        else openblas_nolapack.blas_set_num_threads(n);
        current = n;
    }

    /** Sets OpenBLAS's thread count only when it changes (the call itself is not free). */
    static void useThreads(int n) {
        if (current != n) setThreads(n);
    }

    /** The count last set (the preset's blas_get_num_threads only remembers its own setter's value). */
    static int threads() { return current; }

    /** The OpenBLAS build (its runtime kernel choice is not exposed by the preset). */
    static String config() { return "OpenBLAS 0.3.31 (org.bytedeco:openblas, DYNAMIC_ARCH)"; }

    /** C[cOff..] = A[aOff..] (M x K, op(A)) * B[bOff..] (K x N, op(B)), row-major. */
    static void sgemm(boolean transA, boolean transB, int m, int n, int k,
                      FloatBuffer a, int aOff, int lda, FloatBuffer b, int bOff, int ldb,
                      float beta, FloatBuffer c, int cOff, int ldc) {
        try (FloatPointer pa = new FloatPointer(a); FloatPointer pb = new FloatPointer(b); FloatPointer pc = new FloatPointer(c)) {
            openblas_nolapack.cblas_sgemm(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k,
                    1f, pa.position(aOff), lda, pb.position(bOff), ldb, beta, pc.position(cOff), ldc);
        }
    }

    static void dgemm(boolean transA, boolean transB, int m, int n, int k,
                      DoubleBuffer a, int aOff, int lda, DoubleBuffer b, int bOff, int ldb,
                      double beta, DoubleBuffer c, int cOff, int ldc) {
        try (DoublePointer pa = new DoublePointer(a); DoublePointer pb = new DoublePointer(b); DoublePointer pc = new DoublePointer(c)) {
            openblas_nolapack.cblas_dgemm(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k,
                    1.0, pa.position(aOff), lda, pb.position(bOff), ldb, beta, pc.position(cOff), ldc);
        }
    }
}
