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
 * do not), and the same call must give the same bits every time.
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
}
