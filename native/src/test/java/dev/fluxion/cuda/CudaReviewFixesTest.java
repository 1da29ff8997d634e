package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.fluxion.cuda.CudaTesting.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The defects a review of the CUDA backend found (issue 20, "Fix"), each checked on a GPU: a NaN in a row of
 * softmax / log-softmax / cross-entropy, cuBLASLt on views at unaligned offsets, uploads whose host bytes
 * change right after the call, an embedding id of -1 without a padding index, and the host-sync counter.
 */
@Tag("gpu")
class CudaReviewFixesTest {
    /** rowstats.cuh: a NaN a thread reads first (before any finite value) makes its row NaN, as on the CPU. */
    @Test void nanInARowGivesNanLikeTheCpu() {
        Device gpu = CudaTesting.gpu();
        Generator g = new Generator(3);
        for (int cols : new int[] {5, 40, 300, 3000}) {
            Tensor x = Tensor.randn(g, 4, cols);
            float[] v = x.toFloatArray();
            v[5 % cols] = Float.NaN;                                  // row 0: first element of thread 5's slice
            v[cols + Math.min(cols - 1, 260)] = Float.NaN;            // row 1: later in a slice
            v[3 * cols - 1] = Float.NaN;                              // row 2: the last element; row 3 has none
            x = Tensor.of(v).reshape(4, cols);
            for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
                Tensor xd = x.to(dt);
                assertClose(xd.softmax(-1), xd.to(gpu).softmax(-1), "softmax with NaN, " + cols + " columns, " + dt);
                assertClose(xd.logSoftmax(-1), xd.to(gpu).logSoftmax(-1), "logSoftmax with NaN, " + cols + " columns, " + dt);
            }
            Tensor targets = Tensor.of(new long[] {0, 1 % cols, 2 % cols, 3 % cols}, 4);
            Fused.CrossEntropy ce = Fused.crossEntropy(x.to(gpu), targets.to(gpu), -100);
            float[] loss = ce.loss().toFloatArray();
            for (int r = 0; r < 3; r++) assertTrue(Float.isNaN(loss[r]), "cross-entropy of row " + r + " (holds a NaN) is " + loss[r]);
            assertTrue(Float.isFinite(loss[3]), "cross-entropy of the row without NaN is " + loss[3]);
        }
    }

    /** CublasLt: matrices and bias at offsets of 1 and 3 elements (2- to 12-byte aligned) still give the right product. */
    @Test void cublasLtLinearOnOffsetViews() {
        Device gpu = CudaTesting.gpu();
        Generator g = new Generator(5);
        int m = 37, k = 64, n = 48;
        for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16}) {
            for (int off : new int[] {1, 3}) {
                Tensor xs = Tensor.randn(g, m * k + off).to(dt), ws = Tensor.randn(g, n * k + off).to(dt), bs = Tensor.randn(g, n + off).to(dt);
                Tensor x = xs.narrow(0, off, m * k).reshape(m, k), w = ws.narrow(0, off, n * k).reshape(n, k), b = bs.narrow(0, off, n);
                Tensor xg = xs.to(gpu).narrow(0, off, m * k).reshape(m, k), wg = ws.to(gpu).narrow(0, off, n * k).reshape(n, k),
                        bg = bs.to(gpu).narrow(0, off, n);
                assertTrue(CudaElementwise.address(xg) % 16 != 0, "the view really is unaligned");
                Tensor ref = x.to(DType.FLOAT64).matmul(w.to(DType.FLOAT64).transpose(0, 1)).add(b.to(DType.FLOAT64)).relu();
                double tol = dt == DType.FLOAT32 ? 1e-4 : dt == DType.FLOAT16 ? 5e-3 : 3e-2;
                assertClose(ref.to(dt), CublasLt.linear(xg, wg, bg, CublasLt.Epilogue.RELU), tol, tol * 8, "linear " + dt + " at offset " + off);
            }
        }
        assertEquals(256, CublasLt.alignment(0x1000));
        assertEquals(2, CublasLt.alignment(0x1002));
        assertEquals(4, CublasLt.alignment(0x100c));
    }

    /** Uploads go through pinned staging freed only after the copy: changing the source right away changes nothing. */
    @Test void uploadsDoNotReadTheHostBufferAfterTheCall() {
        Device gpu = CudaTesting.gpu();
        CudaDevice d = CudaBackend.of(gpu).cudaDevice();
        int n = 1 << 20;
        Tensor[] t = new Tensor[6];
        ByteBuffer heap = ByteBuffer.allocate(n * 4).order(ByteOrder.nativeOrder());
        for (int r = 0; r < t.length; r++) {
            t[r] = Tensor.empty(DType.FLOAT32, gpu, n);
            heap.clear();
            for (int i = 0; i < n; i++) heap.putFloat(r * 10 + (i & 7));
            heap.flip();
            t[r].storage().writeBytes(0, heap);
            heap.clear();
            for (int i = 0; i < n; i++) heap.putFloat(-1);                  // overwritten at once: must not reach the GPU
        }
        for (int r = 0; r < t.length; r++) {
            float[] back = t[r].toFloatArray();
            for (int i = 0; i < n; i += 4099) assertEquals(r * 10 + (i & 7), back[i], 0, "tensor " + r + " element " + i);
        }
        CudaBackend.of(gpu).synchronize();
        assertEquals(0, d.staging.inFlight(), "every staging buffer is reclaimed once the stream drained");
    }

    /** embedding.cu: without a padding index, an id of -1 is reported (it was taken for "padding -1" and dropped). */
    @Test void embeddingIdMinusOneWithoutPaddingIsAnError() {
        Device gpu = CudaTesting.gpu();
        Tensor ids = Tensor.of(new long[] {0, -1, 2}, 3).to(gpu), dout = Tensor.ones(3, 4).to(gpu);
        var e = assertThrows(IndexOutOfBoundsException.class, () -> Fused.embeddingBackward(ids, dout, 5, -1).toFloatArray());
        assertTrue(e.getMessage().contains("index -1"), e.getMessage());
        Tensor dw = Fused.embeddingBackward(Tensor.of(new long[] {0, 2, 2}, 3).to(gpu), dout, 5, 2);    // padding 2: its rows skipped
        assertArrayEquals(new float[] {1, 1, 1, 1}, dw.narrow(0, 0, 1).reshape(4).toFloatArray());
        assertArrayEquals(new float[] {0, 0, 0, 0}, dw.narrow(0, 2, 1).reshape(4).toFloatArray());
    }

    /** The host-sync counter counts reads back, and an op chain without a read adds nothing. */
    @Test void hostSyncCounterCountsReadsOnly() {
        Device gpu = CudaTesting.gpu();
        CudaBackend b = CudaBackend.of(gpu);
        Tensor x = Tensor.randn(new Generator(1), 64, 64).to(gpu);
        long before = b.hostSyncCount();
        Tensor y = x.matmul(x).relu().sum();
        assertEquals(before, b.hostSyncCount(), "enqueueing ops waits for nothing");
        y.item();
        assertEquals(before + 1, b.hostSyncCount(), "item() waits once");
    }
}
