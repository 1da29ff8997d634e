package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The autocast scope (thread-local, nested, disabled) and the op-level policy on the CPU backend. */
@SuppressWarnings("try")   // scopes opened only for their effect on the ops inside
class AutocastTest {
    @Test void castsByPolicyInsideAScopeOnly() {
        Tensor x = Tensor.ones(2, 2);
        assertSame(x, Autocast.cast(Autocast.Policy.LOWER, x));
        try (var ac = Autocast.open(DType.BFLOAT16)) {
            assertEquals(DType.BFLOAT16, Autocast.current().orElseThrow());
            Tensor low = Autocast.cast(Autocast.Policy.LOWER, x);
            assertEquals(DType.BFLOAT16, low.dtype());
            assertEquals(DType.FLOAT32, Autocast.cast(Autocast.Policy.FLOAT32, low).dtype());
            assertSame(x, Autocast.cast(Autocast.Policy.KEEP, x));
            Tensor ids = Tensor.arange(3);
            assertSame(ids, Autocast.cast(Autocast.Policy.LOWER, ids));
            Tensor wide = x.to(DType.FLOAT64);
            assertSame(wide, Autocast.cast(Autocast.Policy.LOWER, wide), "float64 is never autocast, as in PyTorch");
            try (var inner = Autocast.open(DType.FLOAT16)) {
                assertEquals(DType.FLOAT16, Autocast.cast(Autocast.Policy.LOWER, x).dtype());
                assertEquals(DType.FLOAT16, Autocast.cast(Autocast.Policy.LOWER, low).dtype(), "the innermost scope's dtype wins");
            }
            assertEquals(DType.BFLOAT16, Autocast.current().orElseThrow());
        }
        assertTrue(Autocast.current().isEmpty());
    }

    @Test void aDisabledScopeTurnsAutocastOffInside() {
        Tensor a = Tensor.ones(2, 3), b = Tensor.ones(3, 2);
        try (var ac = Autocast.open(DType.BFLOAT16)) {
            try (var off = Autocast.disabled()) {
                assertFalse(Autocast.isEnabled());
                assertEquals(DType.FLOAT32, a.matmul(b).dtype());
                Tensor low = a.to(DType.BFLOAT16);
                assertThrows(IllegalArgumentException.class, () -> low.add(a), "mixed dtypes are an error again with autocast off");
            }
            assertEquals(DType.BFLOAT16, a.matmul(b).dtype());
            try (var off = Autocast.open(DType.FLOAT16, false)) {
                assertEquals(DType.FLOAT32, a.matmul(b).dtype());
            }
        }
    }

    @Test void misuseFailsLoudly() {
        assertThrows(IllegalArgumentException.class, () -> Autocast.open(DType.FLOAT64));
        assertThrows(IllegalArgumentException.class, () -> Autocast.open(DType.FLOAT32, false));
        Autocast outer = Autocast.open(DType.FLOAT16);
        Autocast inner = Autocast.open(DType.FLOAT16);
        IllegalStateException e = assertThrows(IllegalStateException.class, outer::close);
        assertTrue(e.getMessage().contains("innermost"), e.getMessage());
        inner.close();
        outer.close();
        outer.close();   // a second close does nothing
        assertTrue(Autocast.current().isEmpty());
    }

    @Test void theScopeBelongsToItsThread() throws Exception {
        try (var ac = Autocast.open(DType.BFLOAT16)) {
            DType other = CompletableFuture.supplyAsync(() -> Tensor.ones(2, 2).matmul(Tensor.ones(2, 2)).dtype()).get();
            assertEquals(DType.FLOAT32, other);
        }
    }

    @Test void gemmsRunInTheLowerDtypeAndTheFloat32ListInFloat32() {
        Tensor a = Tensor.randn(new Generator(1), DType.FLOAT32, 4, 5), b = Tensor.randn(new Generator(2), DType.FLOAT32, 5, 3);
        try (var ac = Autocast.open(DType.BFLOAT16)) {
            Tensor y = a.matmul(b);
            assertEquals(DType.BFLOAT16, y.dtype());
            assertEquals(DType.BFLOAT16, a.matmul(b.to(DType.FLOAT16)).dtype(), "both operands go to the scope's dtype");
            assertEquals(DType.BFLOAT16, Tensor.zeros(3).addmm(a, b).dtype());
            assertEquals(DType.FLOAT32, y.softmax(-1).dtype());
            assertEquals(DType.FLOAT32, y.logSoftmax(-1).dtype());
            assertEquals(DType.FLOAT32, y.sum().dtype());
            assertEquals(DType.FLOAT32, y.mean(-1, false).dtype());
            assertEquals(DType.FLOAT32, y.exp().dtype());
            assertEquals(DType.FLOAT32, y.layerNorm(Tensor.ones(3), Tensor.zeros(3), 1e-5).dtype());
            assertEquals(DType.BFLOAT16, y.relu().dtype(), "ops on no list keep their input's dtype");
            assertEquals(DType.FLOAT32, y.add(Tensor.ones(3)).dtype(), "bfloat16 + float32 runs in float32");
            Tensor d = a.to(DType.FLOAT64);
            assertEquals(DType.FLOAT64, d.matmul(b.to(DType.FLOAT64)).dtype());
        }
        assertEquals(DType.FLOAT32, a.matmul(b).dtype());
        assertThrows(IllegalArgumentException.class, () -> a.to(DType.BFLOAT16).add(a), "no promotion outside autocast");
    }

    /**
     * The CPU bfloat16 GEMM is a 16-bit GEMM with float32 accumulation: against the exact float64 product of the
     * same bfloat16 inputs, rounded to bfloat16, each element is within one bfloat16 rounding (2^-8 relative) plus
     * float32 accumulation error (K * 2^-24 * sum |a||b|, far smaller for these sizes).
     */
    @Test void bfloat16MatmulMatchesFloat64WithinOneRounding() {
        int m = 37, k = 300, n = 29;
        Tensor a = Tensor.randn(new Generator(3), DType.FLOAT32, m, k).to(DType.BFLOAT16);
        Tensor b = Tensor.randn(new Generator(4), DType.FLOAT32, k, n).to(DType.BFLOAT16);
        double[] exact = a.to(DType.FLOAT64).matmul(b.to(DType.FLOAT64)).toDoubleArray();
        double[] absSum = a.to(DType.FLOAT64).abs().matmul(b.to(DType.FLOAT64).abs()).toDoubleArray();
        Tensor got = a.matmul(b);
        assertEquals(DType.BFLOAT16, got.dtype());
        double[] g = got.toDoubleArray();
        int inexact = 0;
        for (int i = 0; i < g.length; i++) {
            double tol = Math.abs(exact[i]) * 0x1p-8 + k * 0x1p-24 * absSum[i];
            assertTrue(Math.abs(g[i] - exact[i]) <= tol, "element " + i + ": " + g[i] + " vs exact " + exact[i] + " (tolerance " + tol + ")");
            if (g[i] != exact[i]) inexact++;
        }
        assertTrue(inexact > 0, "the result was rounded to bfloat16");
        // also through transposed operands (the layout BLAS receives without a copy) and a batch
        Tensor bt = b.t().contiguous().t();
        assertEquals(0, got.sub(a.matmul(bt)).abs().max().item());
        Tensor batch = Tensor.stack(java.util.List.of(a, a), 0).matmul(b);
        assertEquals(0, batch.select(0, 1).sub(got).abs().max().item());
    }
}
