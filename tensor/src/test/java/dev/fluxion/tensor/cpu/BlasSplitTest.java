package dev.fluxion.tensor.cpu;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Blas.sgemm splits a large product into blocks of rows or columns over the workers. Each block must address its
 * part of A, B and C correctly for every transpose (checked against one OpenBLAS call on the whole product, to
 * float rounding: OpenBLAS's Haswell kernels round a block of rows differently from the whole, its AVX-512 ones
 * do not), and the same call must give the same bits every time. The same holds for two products run at once
 * (sgemmPair) and for a product whose blocks are prefilled by the thread that multiplies into them.
 */
class BlasSplitTest {
    private static FloatBuffer random(int n, Random r) {
        FloatBuffer b = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        for (int i = 0; i < n; i++) b.put(i, (float) r.nextGaussian());
        return b;
    }

    @Test void aSplitProductMatchesOneCallAndRepeatsItsBits() {
        Assumptions.assumeTrue(Parallel.threads() > 1, "one worker: nothing is split");
        Random r = new Random(3);
        int[][] shapes = {{256, 256, 256}, {512, 512, 512}, {256, 1024, 784}, {1024, 784, 256}, {100, 300, 200}, {33, 700, 513}, {700, 40, 300}};
        for (int[] s : shapes) for (int t = 0; t < 4; t++) for (float beta : new float[] {0f, 1f}) {
            int m = s[0], n = s[1], k = s[2];
            boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
            int lda = ta ? m : k, ldb = tb ? k : n;
            FloatBuffer a = random(m * k, r), b = random(k * n, r), c0 = random(m * n, r), split = ByteBuffer.allocateDirect(m * n * 4)
                    .order(ByteOrder.nativeOrder()).asFloatBuffer(), single = ByteBuffer.allocateDirect(m * n * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
            for (int i = 0; i < m * n; i++) { split.put(i, c0.get(i)); single.put(i, c0.get(i)); }
            FloatBuffer again = ByteBuffer.allocateDirect(m * n * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
            for (int i = 0; i < m * n; i++) again.put(i, c0.get(i));
            Blas.sgemm(ta, tb, m, n, k, a, 0, lda, b, 0, ldb, beta, split, 0, n);
            Blas.sgemm(ta, tb, m, n, k, a, 0, lda, b, 0, ldb, beta, again, 0, n);
            Blas.sgemmSingle(ta, tb, m, n, k, a, 0, lda, b, 0, ldb, beta, single, 0, n);
            String at = m + "x" + n + "x" + k + " tA=" + ta + " tB=" + tb + " beta=" + beta;
            for (int i = 0; i < m * n; i++) {
                assertEquals(Float.floatToIntBits(split.get(i)), Float.floatToIntBits(again.get(i)), at + ": the same call gave other bits at " + i);
                // inputs ~N(0, 1): a dot product of k terms has magnitude ~sqrt(k); float rounding is far below 1e-4 of that
                assertEquals(single.get(i), split.get(i), 1e-4 * Math.sqrt(k), at + " at " + i);
            }
        }
    }

    private static FloatBuffer copy(FloatBuffer src, int n) {
        FloatBuffer b = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        for (int i = 0; i < n; i++) b.put(i, src.get(i));
        return b;
    }

    /** A linear layer's backward pair, dx = g W and dW = g^T x, at several thread counts and widths. */
    @Test void twoProductsAtOnceMatchOneCallEachAndRepeatTheirBits() {
        int before = Parallel.threads();
        Random r = new Random(5);
        try {
            for (int threads : new int[] {1, 2, 3, 4}) {
                Parallel.setThreads(threads);
                for (int[] s : new int[][] {{256, 1024, 784}, {64, 300, 200}, {128, 40, 517}, {256, 10, 1024}}) {
                    int m = s[0], out = s[1], in = s[2];              // g: m x out, W: out x in, x: m x in
                    FloatBuffer g = random(m * out, r), w = random(out * in, r), x = random(m * in, r);
                    FloatBuffer dx = random(m * in, r), dw = random(out * in, r), dxAgain = copy(dx, m * in), dwAgain = copy(dw, out * in);
                    FloatBuffer dxOne = copy(dx, m * in), dwOne = copy(dw, out * in);
                    for (int run = 0; run < 2; run++) {
                        FloatBuffer dxTo = run == 0 ? dx : dxAgain, dwTo = run == 0 ? dw : dwAgain;
                        Blas.sgemmPair(new Blas.Product(false, false, m, in, out, g, 0, out, w, 0, in, 0f, dxTo, 0, in),
                                new Blas.Product(true, false, out, in, m, g, 0, out, x, 0, in, 0f, dwTo, 0, in));
                    }
                    Blas.sgemmSingle(false, false, m, in, out, g, 0, out, w, 0, in, 0f, dxOne, 0, in);
                    Blas.sgemmSingle(true, false, out, in, m, g, 0, out, x, 0, in, 0f, dwOne, 0, in);
                    String at = threads + " threads, g " + m + "x" + out + ", x " + m + "x" + in;
                    for (int i = 0; i < m * in; i++) {
                        assertEquals(Float.floatToIntBits(dx.get(i)), Float.floatToIntBits(dxAgain.get(i)), at + ": dx bits changed at " + i);
                        assertEquals(dxOne.get(i), dx.get(i), 1e-4 * Math.sqrt(out), at + ": dx at " + i);
                    }
                    for (int i = 0; i < out * in; i++) {
                        assertEquals(Float.floatToIntBits(dw.get(i)), Float.floatToIntBits(dwAgain.get(i)), at + ": dW bits changed at " + i);
                        assertEquals(dwOne.get(i), dw.get(i), 1e-4 * Math.sqrt(m), at + ": dW at " + i);
                    }
                }
            }
        } finally {
            Parallel.setThreads(before);
        }
    }

    /** Every block of C is prefilled once, before its product is added (beta = 1): a bias row under x W^T. */
    @Test void prefilledBlocksAreWrittenBeforeTheProductAddsToThem() {
        Random r = new Random(7);
        for (int[] s : new int[][] {{256, 1024, 784}, {700, 20, 300}, {8, 8, 8}}) {
            int m = s[0], n = s[1], k = s[2];
            FloatBuffer x = random(m * k, r), w = random(n * k, r), bias = random(n, r);
            FloatBuffer y = random(m * n, r), expected = random(m * n, r);  // garbage the prefill must overwrite
            int[] fills = new int[m * n];
            Blas.sgemm(false, true, m, n, k, x, 0, k, w, 0, k, 1f, y, 0, n, (rowFrom, rowTo, colFrom, colTo) -> {
                for (int i = rowFrom; i < rowTo; i++) for (int j = colFrom; j < colTo; j++) { y.put(i * n + j, bias.get(j)); fills[i * n + j]++; }
            });
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) expected.put(i * n + j, bias.get(j));
            Blas.sgemmSingle(false, true, m, n, k, x, 0, k, w, 0, k, 1f, expected, 0, n);
            for (int i = 0; i < m * n; i++) {
                assertEquals(1, fills[i], m + "x" + n + "x" + k + ": element " + i + " prefilled " + fills[i] + " times");
                assertEquals(expected.get(i), y.get(i), 1e-4 * Math.sqrt(k), m + "x" + n + "x" + k + " at " + i);
            }
        }
    }
}
