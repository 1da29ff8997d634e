package dev.fluxion.autodiff;

import dev.fluxion.tensor.AttentionOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CPU attention kernel (float32, no T x S weights written) against the composed op in float64 (which
 * has no kernel): outputs and the gradients of q, k and v, causal or not, for several lengths, head widths
 * and layouts, including the (B, H, T, D) views of a (B, T, 3C) projection that CausalSelfAttention passes.
 */
class FusedAttentionKernelTest {
    private static final double TOL = 2e-5;

    private static void assertClose(String what, Tensor expected, Tensor actual) {
        double[] e = expected.to(DType.FLOAT64).contiguous().toDoubleArray(), a = actual.to(DType.FLOAT64).contiguous().toDoubleArray();
        assertEquals(e.length, a.length, what + ": sizes");
        double scale = 0;
        for (double v : e) if (!Double.isNaN(v)) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < e.length; i++) {
            if (Double.isNaN(e[i])) { assertTrue(Double.isNaN(a[i]), what + " at " + i + ": NaN expected (a query that attends nothing)"); continue; }
            assertEquals(e[i], a[i], TOL * Math.max(1, scale), what + " at " + i + " (max |expected| " + scale + ")");
        }
    }

    /** q, k, v as (B, H, T, D) views of one (B, T, 3, H, D) buffer, as the GPT's qkv split gives them. */
    private static Tensor[] splitViews(Tensor qkv, int b, int t, int h, int d) {
        Tensor[] out = new Tensor[3];
        for (int i = 0; i < 3; i++) out[i] = qkv.narrow(2, i * h * d, h * d).reshape(b, t, h, d).transpose(1, 2);
        return out;
    }

    private static void check(boolean causal, int b, int h, int t, int s, int d, int e, boolean viewsOfOneBuffer, long seed) {
        check(causal, b, h, t, s, d, e, viewsOfOneBuffer, seed, null);
    }

    private static void check(boolean causal, int b, int h, int t, int s, int d, int e, boolean viewsOfOneBuffer, long seed, Tensor mask) {
        Generator g = new Generator(seed);
        Tensor q, k, v;
        if (viewsOfOneBuffer) {
            Tensor qkv = Tensor.randn(g, b, t, 3 * h * d);
            Tensor[] parts = splitViews(qkv, b, t, h, d);
            q = parts[0]; k = parts[1]; v = parts[2];
        } else {
            q = Tensor.randn(g, b, h, t, d);
            k = Tensor.randn(g, b, h, s, d);
            v = Tensor.randn(g, b, h, s, e);
        }
        Tensor w = Tensor.randn(g, b, h, t, v.size(-1));
        double scale = 1 / Math.sqrt(d);
        String what = (causal ? "causal" : "full") + " B" + b + " H" + h + " T" + t + " S" + k.size(-2) + " D" + d + " E" + v.size(-1);

        boolean masked = mask != null;
        Tensor[] in = masked ? new Tensor[] {q, k, v, mask} : new Tensor[] {q, k, v};
        Tensor lse = dev.fluxion.tensor.FusedKernels.forward(new AttentionOp(scale, causal, masked, false), in).state()[0];
        assertEquals(q.dim() - 1, lse.dim(), what + ": the CPU kernel ran (its state is the row log-sum-exp, not P)");

        Tensor q32 = q.detach().requiresGrad(true), k32 = k.detach().requiresGrad(true), v32 = v.detach().requiresGrad(true);
        Tensor y32 = masked ? new AttentionOp(scale, causal, true, false).apply(q32, k32, v32, mask) : new AttentionOp(scale, causal, false, false).apply(q32, k32, v32);
        y32.mul(w).sum().backward();

        Tensor q64 = q.to(DType.FLOAT64).requiresGrad(true), k64 = k.to(DType.FLOAT64).requiresGrad(true), v64 = v.to(DType.FLOAT64).requiresGrad(true);
        Tensor y64 = masked ? new AttentionOp(scale, causal, true, false).apply(q64, k64, v64, mask) : new AttentionOp(scale, causal, false, false).apply(q64, k64, v64);
        // rows that attend nothing are NaN in both; the loss is NaN then, but its gradient w reaching y stays finite
        y64.mul(w.to(DType.FLOAT64)).sum().backward();

        assertClose(what + " output", y64, y32);
        assertClose(what + " dq", q64.grad(), q32.grad());
        assertClose(what + " dk", k64.grad(), k32.grad());
        assertClose(what + " dv", v64.grad(), v32.grad());
    }

    @Test void causalMatchesTheComposedOpInFloat64() {
        check(true, 2, 3, 1, 1, 4, 4, false, 1);
        check(true, 2, 2, 7, 7, 5, 3, false, 2);
        check(true, 1, 2, 40, 40, 16, 16, false, 3);
        check(true, 2, 2, 33, 33, 64, 64, false, 4);
        check(true, 1, 1, 9, 13, 8, 6, false, 5);          // more keys than queries: top-left aligned
        check(true, 1, 1, 13, 9, 8, 6, false, 6);          // more queries than keys
    }

    @Test void fullAttentionMatches() {
        check(false, 2, 2, 6, 11, 8, 5, false, 7);
        check(false, 1, 3, 35, 35, 32, 32, false, 8);
    }

    @Test void readsTheSplitProjectionViewsInPlace() {
        check(true, 2, 4, 19, 19, 16, 16, true, 9);
        check(true, 3, 2, 64, 64, 32, 32, true, 10);
    }

    @Test void masksMatchIncludingQueriesThatAttendNothing() {
        Generator g = new Generator(12);
        Tensor padding = Tensor.rand(g, 2, 1, 1, 9).ge(0.3);                      // (B, 1, 1, S), broadcast over heads and queries
        check(true, 2, 3, 9, 9, 8, 8, false, 13, padding);
        check(false, 2, 3, 9, 9, 8, 8, false, 14, padding);
        boolean[] full = new boolean[2 * 2 * 6 * 7];
        for (int i = 0; i < full.length; i++) full[i] = (i * 7 + 3) % 5 != 0;
        for (int j = 0; j < 7; j++) full[2 * 7 + j] = false;                        // query 2 of the first matrix attends nothing
        check(false, 2, 2, 6, 7, 4, 5, false, 15, Tensor.of(full, 2, 2, 6, 7));
    }

    @Test void onlyTheGradientsThatAreNeededAreComputed() {
        Generator g = new Generator(11);
        Tensor q = Tensor.randn(g, 1, 2, 8, 4), k = Tensor.randn(g, 1, 2, 8, 4).requiresGrad(true), v = Tensor.randn(g, 1, 2, 8, 4);
        new AttentionOp(0.5, true, false, false).apply(q, k, v).sum().backward();
        assertNull(q.grad());
        assertNull(v.grad());
        assertNotNull(k.grad());
        assertTrue(k.grad().abs().sum().item() > 0, "dk is not all zero");
    }
}
