package dev.fluxion.cuda;

import dev.fluxion.tensor.AttentionOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.FusedKernels;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fused attention forward (attention.cu, {@link CudaAttention}) on a GPU: output and row log-sum-exp against
 * the composed op in float64 on the CPU for every dtype, head dim, causal or not, T != S; the (B, H, T, D) views of
 * a packed qkv projection read in place; declines (mask, dropout, other head dims); gradients of the fused backward
 * against float64 on the CPU (causal with T > S); no host synchronisation; no P-sized allocation.
 */
@Tag("gpu")
class CudaAttentionTest {
    /** Output tolerance (rtol = atol): 16-bit weights are rounded to the dtype before P v, as the composed path's. */
    private static double tol(DType dt) {
        return switch (dt) { case FLOAT64 -> 1e-10; case FLOAT32 -> 1e-4; case FLOAT16 -> 4e-3; default -> 2.5e-2; };
    }

    /** out and lse of the composed op in float64 on the CPU. */
    private static Tensor[] reference(AttentionOp op, Tensor q, Tensor k, Tensor v) {
        Tensor q64 = q.to(Device.CPU).to(DType.FLOAT64), k64 = k.to(Device.CPU).to(DType.FLOAT64), v64 = v.to(Device.CPU).to(DType.FLOAT64);
        Tensor out = op.compose(new Tensor[] {q64, k64, v64}).output();
        Tensor att = q64.matmul(k64.transpose(-2, -1)).mul(op.scale());
        if (op.causal()) att = att.maskedFill(Tensor.ones(DType.FLOAT32, Device.CPU, q.size(-2), k.size(-2)).triu(1).ne(0), Double.NEGATIVE_INFINITY);
        return new Tensor[] {out, att.logsumexp(-1, false)};
    }

    @Test void forwardMatchesFloat64InEveryDtypeHeadDimAndShape() {
        Device gpu = CudaTesting.gpu();
        CudaDevice d = CudaBackend.of(gpu).cudaDevice();
        Generator g = new Generator(11);
        for (DType dt : CudaTesting.FLOATS)
            for (int dim : CudaAttention.HEAD_DIMS)
                for (int[] ts : new int[][] {{1, 1}, {70, 130}, {130, 70}, {200, 200}})
                    for (boolean causal : new boolean[] {false, true}) {
                        String what = dt + " D " + dim + " T " + ts[0] + " S " + ts[1] + (causal ? " causal" : "");
                        Tensor q = CudaTesting.input(g, dt, 2, 3, ts[0], dim).to(gpu), k = CudaTesting.input(g, dt, 2, 3, ts[1], dim).to(gpu),
                                v = CudaTesting.input(g, dt, 2, 3, ts[1], dim).to(gpu);
                        var op = new AttentionOp(1 / Math.sqrt(dim), causal, false, false);
                        long before = d.kernels.launches("fx_attention_fwd_" + Codes.suffix(dt) + "_d" + dim);
                        FusedOp.Result r = FusedKernels.forward(op, new Tensor[] {q, k, v});
                        assertEquals(1, d.kernels.launches("fx_attention_fwd_" + Codes.suffix(dt) + "_d" + dim) - before, what + ": the kernel ran");
                        Tensor[] want = reference(op, q, k, v);
                        CudaTesting.assertClose(want[0].to(dt), r.output(), tol(dt), tol(dt), what + ": out");
                        assertEquals(Codes.accumulator(dt), r.state()[0].dtype(), what + ": lse dtype");
                        double lt = dt == DType.FLOAT64 ? 1e-11 : dt == DType.FLOAT32 ? 2e-5 : 1e-4;   // tensor cores' float32 sums round their own way
                        CudaTesting.assertClose(want[1].to(Codes.accumulator(dt)), r.state()[0], lt, lt, what + ": lse");
                    }
    }

    @Test void readsThePackedQkvViewsInPlaceAndGivesATransposableOutput() {
        Device gpu = CudaTesting.gpu();
        CudaDevice d = CudaBackend.of(gpu).cudaDevice();
        int b = 2, t = 97, h = 4, dim = 64;
        for (DType dt : CudaTesting.FLOATS) {
            Tensor qkv = CudaTesting.input(new Generator(5), dt, b, t, 3 * h * dim).to(gpu);            // (B, T, 3C) as a linear gives
            Tensor[] parts = new Tensor[3];
            for (int i = 0; i < 3; i++) parts[i] = qkv.narrow(2, i * h * dim, h * dim).reshape(b, t, h, dim).transpose(1, 2);
            var op = new AttentionOp(0.125, true, false, false);
            long copies = d.kernels.launches("fx_copy");
            FusedOp.Result r = FusedKernels.forward(op, parts);
            assertEquals(0, d.kernels.launches("fx_copy") - copies, dt + ": no contiguous copies of q, k, v");
            Tensor y = r.output().transpose(1, 2);
            assertTrue(y.isContiguous(), dt + ": out.transpose(1, 2) is contiguous (B, T, H, D)");
            CudaTesting.assertClose(reference(op, parts[0], parts[1], parts[2])[0].to(dt), r.output(), tol(dt), tol(dt), dt + ": out");
        }
    }

    @Test void copiesViewsItCannotReadInPlace() {
        Device gpu = CudaTesting.gpu();
        CudaDevice d = CudaBackend.of(gpu).cudaDevice();
        int n = 2 * 3 * 40 * 32;
        for (DType dt : CudaTesting.FLOATS) {
            // q one element into its buffer (not 16-byte aligned for 16-bit), k transposed in its last two dims
            Tensor q = CudaTesting.input(new Generator(6), dt, n + 1).to(gpu).narrow(0, 1, n).reshape(2, 3, 40, 32);
            Tensor k = CudaTesting.input(new Generator(7), dt, 2, 3, 32, 40).to(gpu).transpose(2, 3), v = CudaTesting.input(new Generator(8), dt, 2, 3, 40, 32).to(gpu);
            var op = new AttentionOp(0.2, false, false, false);
            long fwd = d.kernels.launches("fx_attention_fwd_");
            FusedOp.Result r = FusedKernels.forward(op, new Tensor[] {q, k, v});
            assertEquals(1, d.kernels.launches("fx_attention_fwd_") - fwd, dt + ": the kernel ran on copies");
            CudaTesting.assertClose(reference(op, q, k, v)[0].to(dt), r.output(), tol(dt), tol(dt), dt + ": out");
        }
    }

    @Test void declinesMasksDropoutAndOtherHeadDims() {
        Device gpu = CudaTesting.gpu();
        Tensor q = Tensor.randn(new Generator(1), DType.FLOAT32, 2, 8, 64).to(gpu);
        Tensor mask = Tensor.ones(DType.BOOL, gpu, 8, 8), drop = Tensor.ones(DType.FLOAT32, gpu, 2, 8, 8);
        CudaAttention kernel = new CudaAttention();
        assertNull(kernel.forward(new AttentionOp(0.1, false, true, false), new Tensor[] {q, q, q, mask}), "mask");
        assertNull(kernel.forward(new AttentionOp(0.1, false, false, true), new Tensor[] {q, q, q, drop}), "dropout");
        Tensor q48 = Tensor.randn(new Generator(2), DType.FLOAT32, 2, 8, 48).to(gpu);
        assertNull(kernel.forward(new AttentionOp(0.1, false, false, false), new Tensor[] {q48, q48, q48}), "D 48");
        Tensor v32 = Tensor.randn(new Generator(3), DType.FLOAT32, 2, 8, 32).to(gpu);
        assertNull(kernel.forward(new AttentionOp(0.1, false, false, false), new Tensor[] {q, q, v32}), "E != D");
        try (var ac = dev.fluxion.tensor.Autocast.open(DType.BFLOAT16)) {
            assertNull(kernel.forward(new AttentionOp(0.1, false, false, false), new Tensor[] {q, q, q}), "float32 under bfloat16 autocast");
        }
    }

    @Test void fusedBackwardMatchesFloat64WithNoHostSyncAndNoP() {
        Device gpu = CudaTesting.gpu();
        CudaBackend be = CudaBackend.of(gpu);
        for (DType dt : CudaTesting.FLOATS)
            for (int[] c : new int[][] {{1, 50, 40, 32}, {0, 33, 70, 64}, {1, 130, 130, 128}}) {   // causal, T, S, D
            String what = dt + (c[0] == 1 ? " causal" : "") + " T " + c[1] + " S " + c[2] + " D " + c[3];
            Generator g = new Generator(7);
            Tensor q = CudaTesting.input(g, dt, 2, 3, c[1], c[3]), k = CudaTesting.input(g, dt, 2, 3, c[2], c[3]), v = CudaTesting.input(g, dt, 2, 3, c[2], c[3]);
            Tensor gy = CudaTesting.input(g, dt, 2, 3, c[1], c[3]);
            var op = new AttentionOp(1 / Math.sqrt(c[3]), c[0] == 1, false, false);
            Tensor[] cpu = {q.to(DType.FLOAT64).requiresGrad(true), k.to(DType.FLOAT64).requiresGrad(true), v.to(DType.FLOAT64).requiresGrad(true)};
            op.apply(cpu).backward(gy.to(DType.FLOAT64));
            Tensor[] dev = {q.to(gpu).requiresGrad(true), k.to(gpu).requiresGrad(true), v.to(gpu).requiresGrad(true)};
            Tensor gyDev = gy.to(gpu);
            op.apply(dev).backward(gyDev);                                    // warm-up: kernels loaded, pool grown
            dev = new Tensor[] {q.to(gpu).requiresGrad(true), k.to(gpu).requiresGrad(true), v.to(gpu).requiresGrad(true)};
            long syncs = be.hostSyncCount(), bwd = be.cudaDevice().kernels.launches("fx_attention_bwd_");
            op.apply(dev).backward(gyDev);
            assertEquals(0, be.hostSyncCount() - syncs, what + ": host synchronisations in attention forward + backward");
            assertEquals(2, be.cudaDevice().kernels.launches("fx_attention_bwd_") - bwd, what + ": the fused backward ran (prep + one kernel)");
            // 16-bit: P and dS are rounded to the dtype before their GEMMs (FlashAttention does the same)
            double tl = dt == DType.FLOAT64 ? 1e-9 : dt == DType.FLOAT32 ? 1e-4 : dt == DType.FLOAT16 ? 2e-2 : 1e-1;
            for (int i = 0; i < 3; i++) CudaTesting.assertClose(cpu[i].grad().to(dt), dev[i].grad(), tl, tl, what + ": gradient of input " + i);
        }
        // a long context: the forward allocates the output and lse, never the (B, H, T, T) weights
        int h = 4, t = 2048;
        Tensor q = Tensor.randn(new Generator(9), DType.FLOAT32, 1, h, t, 64).to(DType.BFLOAT16).to(gpu);
        be.resetPeak();
        long base = be.memoryStats().inUse();
        Tensor y = FusedKernels.forward(new AttentionOp(0.125, true, false, false), new Tensor[] {q, q, q}).output();
        long peak = be.memoryStats().peak() - base, weights = (long) h * t * t * 2;
        assertTrue(peak < weights / 8, "forward peak " + peak + " bytes, the bfloat16 weights would be " + weights);
        assertArrayEquals(new int[] {1, h, t, 64}, y.shape());
    }
}
