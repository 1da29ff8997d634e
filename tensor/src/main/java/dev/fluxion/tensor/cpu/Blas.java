package dev.fluxion.tensor.cpu;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;

/** OpenBLAS GEMM through the JavaCPP preset, on off-heap buffers so that no array is copied across JNI. */
final class Blas {
    private Blas() {}

    /** First: OPENBLAS_CORETYPE must be set before anything below loads OpenBLAS. */
    private static final String ASKED_CORE = OpenBlasCore.ASKED;

    static final int ROW_MAJOR = openblas_nolapack.CblasRowMajor;
    static final int NO_TRANS = openblas_nolapack.CblasNoTrans;
    static final int TRANS = openblas_nolapack.CblasTrans;

    /*
     * OpenBLAS runs one thread per call, always; a large product is split over Parallel's workers instead. Its own
     * worker threads busy-wait after every GEMM for 2^28 cycles (about 0.1 s: measured 50 ms of CPU time during a
     * 50 ms sleep after one GEMM), so in a training step, where GEMMs alternate with Java kernels every few
     * milliseconds, they held one of two cores spinning while the Java kernels ran. With one pool for everything
     * (as PyTorch's OpenMP pool serves both its kernels and its BLAS) a worker spins 50 us at most, then parks.
     */
    static { openblas_nolapack.blas_set_num_threads(1); }   // once, so the preset's slow call (0.3-0.5 ms) does not matter

    /** Below this many flops a product runs on one thread: the hand-off to the pool would cost more than it saves. */
    static final long SPLIT_FLOPS = Long.getLong("fluxion.blas.splitFlops", 1L << 22);

    /** Rows or columns per piece are a multiple of this (whole micro-kernel tiles; OpenBLAS's are at most 16 wide). */
    private static final int ALIGN = 16;

    /**
     * C[cOff..] = A[aOff..] (M x K, op(A)) * B[bOff..] (K x N, op(B)) + beta C, row-major. Large products are
     * split over {@link Parallel}'s workers into blocks along C's longer side, one OpenBLAS call per block (see
     * {@link #splitsRows}). The blocks depend only on the shape and the thread count, so a call gives the same
     * bits every time; with OpenBLAS's Haswell kernels (see {@link OpenBlasCore}) a block can round differently
     * from the whole product, so another thread count may differ in the last bits, as threaded OpenBLAS
     * (PyTorch's) does. Its AVX-512 kernels give the bits of one call ({@code BlasSplitTest}).
     */
    static void sgemm(boolean transA, boolean transB, int m, int n, int k,
                      FloatBuffer a, int aOff, int lda, FloatBuffer b, int bOff, int ldb,
                      float beta, FloatBuffer c, int cOff, int ldc) {
        sgemm(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc, null);
    }

    /** Writes C's rows [rowFrom, rowTo) x columns [colFrom, colTo) before the product adds to them (beta = 1). */
    interface Prefill { void fill(int rowFrom, int rowTo, int colFrom, int colTo); }

    /**
     * {@link #sgemm} with C's block prefilled by the thread that multiplies into it, just before: a linear layer's
     * bias rows, written in parallel and while still in that core's cache, where a serial pass before the GEMM
     * left the worker to park and then wake for it.
     */
    static void sgemm(boolean transA, boolean transB, int m, int n, int k,
                      FloatBuffer a, int aOff, int lda, FloatBuffer b, int bOff, int ldb,
                      float beta, FloatBuffer c, int cOff, int ldc, Prefill prefill) {
        int t = Parallel.threads();
        if (t == 1 || 2L * m * n * k < SPLIT_FLOPS || (m < 2 * ALIGN && n < 2 * ALIGN)) {
            if (prefill != null) prefill.fill(0, m, 0, n);
            sgemmSingle(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
            return;
        }
        Product p = new Product(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        boolean byRows = splitsRows(m, n);
        int extent = byRows ? m : n, blocks = (extent + ALIGN - 1) / ALIGN;
        Parallel.forRange(blocks, (blocks + t - 1) / t, (lo, hi) -> {
            int from = (int) lo * ALIGN, to = (int) Math.min(extent, hi * ALIGN);
            if (byRows) {
                if (prefill != null) prefill.fill(from, to, 0, n);
                p.runRows(from, to);
            } else {
                if (prefill != null) prefill.fill(0, m, from, to);
                p.runColumns(from, to);
            }
        });
    }

    /**
     * Whether a split product's blocks are rows of C (else columns): rows when C is taller than wide (or has too
     * few columns for two blocks). Every block packs the whole operand the blocks have in common once more, B (K x N)
     * for blocks of rows and A (M x K) for blocks of columns, so that should be the smaller of the two. In halves on 2
     * cores (interleaved, medians of 30): rows took 2-5% less time where M > N (the weight gradient 1024x784x256,
     * the GPT step's forward products with M = 2048 tokens and N = 256-1024 features), columns 5-10% less where
     * M < N (the MLP's batch of 256 into 1024 features); square products ran alike, columns marginally ahead.
     */
    static boolean splitsRows(int m, int n) { return n < 2 * ALIGN || m > n; }

    /** One product C = op(A) op(B) + beta C, row-major, and its blocks of rows or columns. */
    record Product(boolean transA, boolean transB, int m, int n, int k, FloatBuffer a, int aOff, int lda,
                   FloatBuffer b, int bOff, int ldb, float beta, FloatBuffer c, int cOff, int ldc) {
        long flops() { return 2L * m * n * k; }

        void run() { sgemm(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc); }

        /** Rows [from, to) of C (the rows of A, or its columns when transposed), on the calling thread. */
        void runRows(int from, int to) {
            sgemmSingle(transA, transB, to - from, n, k, a, aOff + (transA ? from : from * lda), lda, b, bOff, ldb, beta, c, cOff + from * ldc, ldc);
        }

        /** Columns [from, to) of C (the columns of B, or its rows when transposed), on the calling thread. */
        void runColumns(int from, int to) {
            sgemmSingle(transA, transB, m, to - from, k, a, aOff, lda, b, bOff + (transB ? from * ldb : from), ldb, beta, c, cOff + from, ldc);
        }
    }

    /**
     * Two independent products at once, each on its share of the workers: a linear layer's input and weight
     * gradients (the same flops). Two whole products on one thread each beat each split over both threads by
     * 4-7% on the MLP's 1024-wide layers (measured interleaved, 2 cores): each thread packs its operands once,
     * where column halves both pack the shared A, and one hand-off replaces two. With more threads each product
     * gets half of them, in column blocks; the blocks depend only on the shapes and the thread count, so a call
     * gives the same bits every time. Small products (or narrow ones) run one after the other through
     * {@link #sgemm}. The two are not equally fast: the weight gradient (K = the batch, a larger C) took about
     * 0.5 ms longer than the input gradient in the MLP step, and the caller waits for it; smaller blocks to even
     * that out would each pack their shared operand again.
     */
    static void sgemmPair(Product first, Product second) {
        int t = Parallel.threads();
        if (t == 1 || first.flops() < SPLIT_FLOPS || second.flops() < SPLIT_FLOPS || first.n() < 2 * ALIGN || second.n() < 2 * ALIGN) {
            first.run();
            second.run();
            return;
        }
        int each = (t + 1) / 2;
        Parallel.forRange(2L * each, 1, (lo, hi) -> {
            for (long piece = lo; piece < hi; piece++) {
                Product p = piece < each ? first : second;
                int block = (int) (piece % each), units = (p.n() + ALIGN - 1) / ALIGN;
                int from = Math.min(p.n(), units * block / each * ALIGN), to = Math.min(p.n(), units * (block + 1) / each * ALIGN);
                if (to > from) p.runColumns(from, to);
            }
        });
    }

    /** One OpenBLAS call on the calling thread. */
    static void sgemmSingle(boolean transA, boolean transB, int m, int n, int k,
                                  FloatBuffer a, int aOff, int lda, FloatBuffer b, int bOff, int ldb,
                                  float beta, FloatBuffer c, int cOff, int ldc) {
        sgemmSingle(transA, transB, m, n, k, 1f, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }

    /** C = alpha op(A) op(B) + beta C, one OpenBLAS call on the calling thread. */
    static void sgemmSingle(boolean transA, boolean transB, int m, int n, int k, float alpha,
                            FloatBuffer a, int aOff, int lda, FloatBuffer b, int bOff, int ldb,
                            float beta, FloatBuffer c, int cOff, int ldc) {
        try (FloatPointer pa = new FloatPointer(a); FloatPointer pb = new FloatPointer(b); FloatPointer pc = new FloatPointer(c)) {
            openblas_nolapack.cblas_sgemm(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k,
                    alpha, pa.position(aOff), lda, pb.position(bOff), ldb, beta, pc.position(cOff), ldc);
        }
    }

    /** The OpenBLAS build and the kernels it runs (openblas_get_corename), and why when Fluxion chose them. */
    static String config() {
        String core = "?";
        org.bytedeco.javacpp.Pointer fn = org.bytedeco.javacpp.Loader.addressof("openblas_get_corename");
        if (fn != null && !fn.isNull() && NativeKernels.LOADED) core = NativeKernels.callStringFunction(fn.address());
        return "OpenBLAS 0.3.31 (org.bytedeco:openblas, DYNAMIC_ARCH), " + core + " kernels"
                + (ASKED_CORE == null ? "" : " (" + ASKED_CORE + ")");
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
