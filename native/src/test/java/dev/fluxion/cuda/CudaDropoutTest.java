package dev.fluxion.cuda;

import dev.fluxion.nn.Functional;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.DropoutOp;
import dev.fluxion.tensor.FusedKernels;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fused dropout (fx_dropout_fwd/bwd) and device randint (fx_randint) on a GPU: the fused kernels give the
 * composed path's bits (same key, same mask), they are what Functional.dropout runs, dropout forward + backward and
 * randint neither wait for the GPU nor copy to it, and randint's values are the documented Philox mapping.
 */
@Tag("gpu")
class CudaDropoutTest {
    @Test void fusedForwardAndBackwardEqualTheComposedPathBitForBit() {
        Device gpu = CudaTesting.gpu();
        CudaDevice d = CudaBackend.of(gpu).cudaDevice();
        assertNotNull(FusedKernels.kernel(new DropoutOp(0.1, 1), gpu), "dropout kernel registered for CUDA");
        for (DType dt : CudaTesting.FLOATS)
            for (boolean transposed : new boolean[] {false, true})
                for (double p : new double[] {0.2, 0.5, 1.0}) {
                    String what = dt + (transposed ? " transposed" : "") + " p " + p;
                    Tensor x = CudaTesting.input(new Generator(3), dt, 37, 129).to(gpu), g = CudaTesting.input(new Generator(4), dt, 37, 129).to(gpu);
                    if (transposed) { x = x.transpose(0, 1); g = g.transpose(0, 1); }
                    var op = new DropoutOp(p, 0x5DEECE66DL + (long) (p * 10));
                    long fwd = d.kernels.launches("fx_dropout_fwd"), bwd = d.kernels.launches("fx_dropout_bwd");
                    FusedOp.Result fused = FusedKernels.forward(op, new Tensor[] {x}), composed = op.compose(new Tensor[] {x});
                    assertEquals(1, d.kernels.launches("fx_dropout_fwd") - fwd, what + ": the fused forward ran");
                    assertArrayEquals(composed.state()[0].toLongArray(), fused.state()[0].toLongArray(), what + ": mask");
                    assertArrayEquals(composed.output().toDoubleArray(), fused.output().toDoubleArray(), what + ": y, bit for bit");
                    Saved1 saved = new Saved1(x, fused.state()[0]);
                    Tensor dxFused = FusedKernels.backward(op, saved, g)[0], dxComposed = op.backward(saved, g)[0];
                    assertEquals(1, d.kernels.launches("fx_dropout_bwd") - bwd, what + ": the fused backward ran");
                    assertArrayEquals(dxComposed.toDoubleArray(), dxFused.toDoubleArray(), what + ": dx, bit for bit");
                    if (p == 1) assertEquals(0.0, dxFused.abs().sum().item(), 0.0, what + ": p = 1 keeps nothing");
                }
        for (int[] shape : new int[][] {{0, 5}, {}}) {                      // empty (no launch) and 0-dim (one element)
            Tensor x = Tensor.full(3, DType.FLOAT32, gpu, shape);
            var op = new DropoutOp(0.5, 77);
            FusedOp.Result fused = FusedKernels.forward(op, new Tensor[] {x}), composed = op.compose(new Tensor[] {x});
            assertArrayEquals(shape, fused.output().shape());
            assertArrayEquals(composed.output().toFloatArray(), fused.output().toFloatArray(), "shape " + java.util.Arrays.toString(shape));
        }
    }

    @Test void functionalDropoutRunsTheKernelsWithNoHostSyncOrUpload() {
        Device gpu = CudaTesting.gpu();
        CudaDevice d = CudaBackend.of(gpu).cudaDevice();
        Tensor gy = Tensor.ones(DType.FLOAT32, gpu, 256, 512);
        Functional.dropout(Tensor.ones(DType.FLOAT32, gpu, 256, 512).requiresGrad(true), 0.3, new Generator(2)).backward(gy);   // warm-up
        Tensor x = Tensor.randn(new Generator(1), DType.FLOAT32, 256, 512).to(gpu).requiresGrad(true);
        long syncs = CudaBackend.of(gpu).hostSyncCount(), uploads = d.staging.uploads(), random = d.kernels.launches("fx_random");
        long fwd = d.kernels.launches("fx_dropout_fwd"), bwd = d.kernels.launches("fx_dropout_bwd");
        Tensor y = Functional.dropout(x, 0.3, new Generator(2));
        y.backward(gy);
        assertEquals(0, CudaBackend.of(gpu).hostSyncCount() - syncs, "host synchronisations in dropout forward + backward");
        assertEquals(0, d.staging.uploads() - uploads, "host-to-device copies");
        assertEquals(1, d.kernels.launches("fx_dropout_fwd") - fwd, "one fused forward");
        assertEquals(1, d.kernels.launches("fx_dropout_bwd") - bwd, "one fused backward");
        assertEquals(0, d.kernels.launches("fx_random") - random, "no separate uniform draw");
        // the composed path for the same key: the generator's next value
        var op = new DropoutOp(0.3, new Generator(2).nextLong());
        FusedOp.Result composed = op.compose(new Tensor[] {x.detach()});
        assertArrayEquals(composed.output().toFloatArray(), y.toFloatArray(), "Functional.dropout = the composed path for the generator's next value");
        float[] grad = x.grad().toFloatArray(), mask = composed.state()[0].to(DType.FLOAT32).toFloatArray();
        for (int i = 0; i < grad.length; i++) assertEquals(mask[i] * (float) (1 / 0.7), grad[i], 0f, "dx " + i);
        double kept = composed.state()[0].to(DType.FLOAT32).mean().item();
        assertEquals(0.7, kept, 0.005, "kept fraction of 131072");
    }

    /**
     * Tensor parallelism on a GPU: each rank's ShardedDropout block (and its attention multiplier) is the block of the
     * mask single-process dropout gives the unsplit tensor there, and both take one value of the generator.
     */
    @Test void shardedDropoutOnTheGpuIsTheBlockOfTheUnsplitMask() {
        Device gpu = CudaTesting.gpu();
        Tensor x = Tensor.randn(new Generator(8), DType.FLOAT32, 4, 6, 5).to(gpu);
        Generator single = new Generator(21);
        float[] full = Functional.dropout(x, 0.3, single).toFloatArray();
        long next = single.nextLong();
        for (int rank = 0; rank < 2; rank++) {
            Generator g = new Generator(21);
            Tensor block = dev.fluxion.parallel.tensor.ShardedDropout.apply(x.narrow(1, 3 * rank, 3).contiguous(), 0.3, g, 1, group(rank, 2));
            assertEquals(gpu, block.device());
            assertArrayEquals(Tensor.of(full, 4, 6, 5).narrow(1, 3 * rank, 3).contiguous().toFloatArray(), block.toFloatArray(), "rank " + rank + "'s block");
            assertEquals(next, g.nextLong(), "rank " + rank + " took one value of the generator, as the unsplit dropout");
        }
    }

    /** A process group of size ranks seen from rank: only rank() and size(), all ShardedDropout asks. */
    private static dev.fluxion.parallel.ProcessGroup group(int rank, int size) {
        return (dev.fluxion.parallel.ProcessGroup) java.lang.reflect.Proxy.newProxyInstance(CudaDropoutTest.class.getClassLoader(),
                new Class<?>[] {dev.fluxion.parallel.ProcessGroup.class}, (proxy, m, args) -> switch (m.getName()) {
                    case "rank" -> rank;
                    case "size" -> size;
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    @Test void randintIsThePhiloxMappingWithNoHostSyncOrUpload() {
        Device gpu = CudaTesting.gpu();
        CudaDevice d = CudaBackend.of(gpu).cudaDevice();
        long[][] cases = {{0, 10}, {-5, 3}, {7, 8}, {Long.MIN_VALUE, Long.MAX_VALUE}, {1000, 1000 + (1L << 40)}, {-3, Long.MAX_VALUE}};
        Tensor.randint(new Generator(1), 0, 5, gpu, 8);                     // warm-up
        for (long[] c : cases) {
            long syncs = CudaBackend.of(gpu).hostSyncCount(), uploads = d.staging.uploads(), launches = d.kernels.launches("fx_randint");
            Tensor t = Tensor.randint(new Generator(9), c[0], c[1], gpu, 3, 333);
            assertEquals(0, CudaBackend.of(gpu).hostSyncCount() - syncs, "host synchronisations");
            assertEquals(0, d.staging.uploads() - uploads, "host-to-device copies");
            assertEquals(1, d.kernels.launches("fx_randint") - launches, "drawn on the GPU");
            assertEquals(DType.INT64, t.dtype());
            assertEquals(gpu, t.device());
            long key = new Generator(9).nextLong(), range = c[1] - c[0];
            long[] got = t.toLongArray();
            for (int i = 0; i < got.length; i++) {
                int[] r = CudaRandomTest.philox(i / 2, key);
                long w = (long) r[2 * (i % 2)] << 32 | (r[2 * (i % 2) + 1] & 0xFFFFFFFFL);
                long want = c[0] + unsignedMultiplyHigh(w, range);
                assertEquals(want, got[i], "[" + c[0] + ", " + c[1] + ") element " + i);
                assertTrue(got[i] >= c[0] && got[i] < c[1], "in range");
            }
        }
        Tensor big = Tensor.randint(new Generator(3), 0, 10, gpu, 1 << 20).to(Device.CPU);
        long[] counts = new long[10];
        for (long v : big.toLongArray()) counts[(int) v]++;
        for (int b = 0; b < 10; b++) assertEquals(0.1, counts[b] / (double) (1 << 20), 0.002, "frequency of " + b);
        assertArrayEquals(Tensor.randint(new Generator(4), -7, 7, gpu, 100).toLongArray(), Tensor.randint(new Generator(4), -7, 7, gpu, 100).toLongArray(), "same seed");
        var e = assertThrows(IllegalArgumentException.class, () -> Tensor.randint(new Generator(1), 5, 5, gpu, 3));
        assertEquals("randint: low 5 must be less than high 5", e.getMessage());
    }

    /** The high 64 bits of the unsigned 128-bit product (Math.unsignedMultiplyHigh of Java 18). */
    static long unsignedMultiplyHigh(long a, long b) {
        return Math.multiplyHigh(a, b) + ((a >> 63) & b) + ((b >> 63) & a);
    }

    /** What a dropout's tape entry keeps: nothing of x but its shape, dtype and device, and the mask. */
    private record Saved1(Tensor x, Tensor mask) implements dev.fluxion.tensor.Saved {
        public Tensor input(int i) { throw new IllegalStateException("dropout saves no input"); }
        public Tensor output() { throw new IllegalStateException("dropout saves no output"); }
        public Tensor state(int k) { return mask; }
        public int inputCount() { return 1; }
        public int[] shape(int i) { return x.shape(); }
        public DType dtype(int i) { return x.dtype(); }
        public Device device(int i) { return x.device(); }
        public boolean needsGrad(int i) { return true; }
    }
}
