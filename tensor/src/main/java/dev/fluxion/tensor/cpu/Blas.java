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

    static void setThreads(int n) {
        openblas_nolapack.blas_set_num_threads(n);
        current = n;
    }

    /** Sets OpenBLAS's thread count only when it changes (the call itself is not free). */
    static void useThreads(int n) {
        if (current != n) setThreads(n);
    }

    static int threads() { return openblas_nolapack.blas_get_num_threads(); }

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
