package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.AttentionOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.UnaryOp;

import java.nio.FloatBuffer;

/**
 * The CPU kernel of {@link AttentionOp} for float32 without dropout (causal or not, with or without a
 * bool mask, read in place with its broadcast strides). Query rows go in blocks of {@link #BLOCK}: the block's
 * scores are one GEMM (scaled by the GEMM's alpha, only over the keys a causal block can see) into a per-thread
 * buffer of BLOCK x S floats, each row's softmax is taken in place, and the weighted values are a second GEMM
 * written straight into the output, so neither the T x S weights nor a mask nor a scaled copy is ever a tensor,
 * however long the context. The state is the row log-sum-exp (..., T); backward recomputes each block of weights
 * from it (as FlashAttention does) and computes only the gradients of inputs that need one, each a GEMM. Work is
 * split over the batch dims (B x H); each piece owns its matrices of every output, and the GEMMs run on one
 * thread each, so the results do not depend on thread count or timing.
 *
 * <p>q, k, v and the gradient are read in place from any layout whose last dim is contiguous (the
 * (B, H, T, D) views that {@code CausalSelfAttention} makes of its qkv projection need no copy). For 4-dim
 * inputs the output and the gradients are allocated as (B, T, H, D) and returned as (B, H, T, D) views,
 * so the caller's transpose(1, 2).reshape(B, T, C) is a view too.
 */
final class CpuAttention implements FusedKernel<AttentionOp> {
    static final CpuAttention KERNEL = new CpuAttention();

    private CpuAttention() {}

    @Override public FusedOp.Result forward(AttentionOp op, Tensor[] in) {
        // under autocast the composition's matmuls run in the scope's dtype and give its output dtype
        if (op.dropout() || dev.fluxion.tensor.Autocast.isEnabled() || !fits(in[0], in[1], in[2])) return null;
        Tensor q = in[0], k = in[1], v = in[2];
        int t = q.size(-2), s = k.size(-2);
        if (t == 0 || s == 0) return null;
        Mask mask = op.masked() ? Mask.of(in[3], q, s) : null;
        if (op.masked() && mask == null) return null;
        Tensor out = allocate(q.shape(), v.size(-1));
        int[] lseShape = java.util.Arrays.copyOf(q.shape(), q.dim() - 1);
        Tensor lse = CpuBackend.empty(DType.FLOAT32, lseShape);
        forward(op, View.of(q), View.of(k), View.of(v), View.of(out), lse, mask);
        return new FusedOp.Result(out, lse);
    }

    @Override public Tensor[] backward(AttentionOp op, Saved saved, Tensor gOut) {
        Tensor lse = saved.state(0);
        if (op.dropout() || lse.dim() != saved.shape(0).length - 1) return null;   // state is P: the composite's forward ran
        Tensor q = saved.input(0), k = saved.input(1), v = saved.input(2);
        Mask mask = op.masked() ? Mask.of(saved.input(3), q, k.size(-2)) : null;
        Tensor g = gOut.dtype() == DType.FLOAT32 ? gOut : gOut.to(DType.FLOAT32);
        if (!fits(g)) g = g.contiguous();
        boolean needQ = saved.needsGrad(0), needK = saved.needsGrad(1), needV = saved.needsGrad(2);
        Tensor dq = needQ ? allocate(q.shape(), q.size(-1)) : null;
        Tensor dk = needK ? allocate(k.shape(), k.size(-1)) : null;
        Tensor dv = needV ? allocate(v.shape(), v.size(-1)) : null;
        backward(op, View.of(q), View.of(k), View.of(v), View.of(g), lse.contiguous(),
                dq == null ? null : View.of(dq), dk == null ? null : View.of(dk), dv == null ? null : View.of(dv), mask);
        Tensor[] grads = new Tensor[saved.inputCount()];                    // none for the mask
        grads[0] = dq;
        grads[1] = dk;
        grads[2] = dv;
        return grads;
    }

    /** float32, one buffer, last dim contiguous: read in place. */
    private static boolean fits(Tensor... ts) {
        for (Tensor x : ts) {
            if (x.dtype() != DType.FLOAT32 || !(x.storage() instanceof CpuStorage c) || !c.isSingleBuffer()) return false;
            if (x.size(-1) > 1 && x.stride()[x.dim() - 1] != 1) return false;
            // the GEMMs need a row stride of at least a row (BLAS refuses a smaller leading dimension)
            if (x.size(-1) == 0 || x.dim() < 2 || x.size(-2) > 1 && x.stride()[x.dim() - 2] < x.size(-1)) return false;
        }
        return true;
    }

    /** A (..., rows, last) float32 tensor; for 4 dims laid out as (B, rows, H, last) and viewed as (B, H, rows, last). */
    private static Tensor allocate(int[] like, int last) {
        int[] shape = like.clone();
        shape[shape.length - 1] = last;
        if (shape.length != 4) return CpuBackend.empty(DType.FLOAT32, shape);
        return CpuBackend.empty(DType.FLOAT32, new int[] {shape[0], shape[2], shape[1], last}).transpose(1, 2);
    }

    /** Where each (..., rows, cols) matrix of a tensor starts in its buffer, and its row stride. */
    private record View(FloatBuffer buf, int[] base, int rowStride, int rows, int cols) {
        static View of(Tensor x) {
            int r = x.dim();
            int[] shape = x.shape();
            long[] st = x.stride();
            int nb = 1;
            for (int i = 0; i < r - 2; i++) nb *= shape[i];
            int[] base = new int[nb];
            for (int b = 0; b < nb; b++) {                       // unravel b over the batch dims
                long off = x.offset();
                for (int i = r - 3, rest = b; i >= 0; i--) { off += (rest % shape[i]) * st[i]; rest /= shape[i]; }
                base[b] = (int) off;
            }
            int rowStride = shape[r - 2] == 1 ? shape[r - 1] : (int) st[r - 2];   // one row: any stride; BLAS wants >= a row
            return new View(((CpuStorage) x.storage()).floats("attention"), base, rowStride, shape[r - 2], shape[r - 1]);
        }

        /** Zeros matrix b (its rows may be strided apart). */
        void zero(int b) {
            float[] zeros = new float[cols];
            for (int i = 0; i < rows; i++) buf.put(base[b] + i * rowStride, zeros, 0, cols);
        }
    }

    /** A bool mask read in place, broadcast to the scores (..., T, S): where each matrix starts, and its strides. */
    private record Mask(java.nio.ByteBuffer buf, int[] base, int rowStride, int colStride) {
        /** Null when the mask is not in one CPU buffer (then the composition runs). */
        static Mask of(Tensor mask, Tensor q, int s) {
            if (!(mask.storage() instanceof CpuStorage c) || !c.isSingleBuffer()) return null;
            int[] scores = q.shape();
            scores[scores.length - 1] = s;
            Tensor m = mask.expand(scores);                       // a view: broadcast dims get stride 0
            int r = m.dim();
            long[] st = m.stride();
            int nb = 1;
            for (int i = 0; i < r - 2; i++) nb *= scores[i];
            int[] base = new int[nb];
            for (int b = 0; b < nb; b++) {
                long off = m.offset();
                for (int i = r - 3, rest = b; i >= 0; i--) { off += (rest % scores[i]) * st[i]; rest /= scores[i]; }
                base[b] = (int) off;
            }
            return new Mask(c.bytes("attention"), base, (int) st[r - 2], (int) st[r - 1]);
        }

        /** Sets the scores of the keys query t of matrix b may not attend to -inf. */
        void apply(int b, int t, float[] row, int n) {
            int at = base[b] + t * rowStride;
            for (int j = 0; j < n; j++) if (buf.get(at + j * colStride) == 0) row[j] = Float.NEGATIVE_INFINITY;
        }
    }

    /** The keys query t may attend: all S, or 0..t when causal (top-left aligned, as PyTorch's is_causal). */
    private static int keys(AttentionOp op, int t, int s) { return op.causal() ? Math.min(t + 1, s) : s; }

    /** Query rows per block: the scores of one block (BLOCK x S floats) are the most any thread holds. */
    static final int BLOCK = 64;

    /** Per thread, two direct buffers of scores / weights for the GEMMs (grown when a longer context comes). */
    private static final ThreadLocal<FloatBuffer[]> SCRATCH = ThreadLocal.withInitial(() -> new FloatBuffer[2]);

    private static FloatBuffer scratch(int slot, int floats) {
        FloatBuffer[] mine = SCRATCH.get();
        if (mine[slot] == null || mine[slot].capacity() < floats)
            mine[slot] = CpuMemory.allocateAligned(Math.max(floats, 1) * 4).asFloatBuffer();   // on a cache line, as tensor memory
        return mine[slot];
    }

    /** Scores of query rows [t0, t0 + rows) against keys [0, n): sc (rows x n) = scale Q K^T, one GEMM. */
    private static void scores(View qv, View kv, int b, int t0, int rows, int n, float scale, FloatBuffer sc) {
        Blas.sgemmSingle(false, true, rows, n, qv.cols, scale, qv.buf, qv.base[b] + t0 * qv.rowStride, qv.rowStride,
                kv.buf, kv.base[b], kv.rowStride, 0f, sc, 0, n);
    }

    /**
     * Per matrix and block of query rows: scores by one GEMM, each row's softmax over the keys it may attend (the
     * rest 0), and the block's output by a second GEMM written straight into out. The row log-sum-exp is the state.
     */
    private static void forward(AttentionOp op, View qv, View kv, View vv, View ov, Tensor lseT, Mask mask) {
        int nb = qv.base.length, t = qv.rows, s = kv.rows, e = vv.cols;
        float scale = (float) op.scale();
        FloatBuffer lse = ((CpuStorage) lseT.storage()).floats("attention");
        int lseOff = (int) lseT.offset();
        Parallel.forRange(nb, 1, (lo, hi) -> {
            FloatBuffer weights = scratch(0, Math.min(BLOCK, t) * s);
            float[] row = new float[s], maxes = new float[BLOCK];
            double[] sums = new double[BLOCK];
            for (int b = (int) lo; b < hi; b++) {
                for (int t0 = 0; t0 < t; t0 += BLOCK) {
                    int rows = Math.min(BLOCK, t - t0), n = keys(op, t0 + rows - 1, s);   // the block's last row sees the most keys
                    scores(qv, kv, b, t0, rows, n, scale, weights);
                    if (mask == null && NativeKernels.ENABLED) {                // the same row steps in C, on the buffer itself
                        NativeKernels.attentionSoftmaxRows(weights, rows, n, t0, op.causal(), s, maxes, sums);
                        for (int i = 0; i < rows; i++)
                            lse.put(lseOff + b * t + t0 + i, sums[i] != sums[i] ? Float.NaN : maxes[i] + (float) Math.log(sums[i]));
                    } else for (int i = 0; i < rows; i++) {
                        int ti = t0 + i, ni = keys(op, ti, s);
                        weights.get(i * n, row, 0, n);
                        if (mask != null) mask.apply(b, ti, row, ni);
                        float max = FloatKernels.max(row, ni);
                        if (max == Float.NEGATIVE_INFINITY) {                 // may attend nothing: NaN, as PyTorch's math path
                            java.util.Arrays.fill(row, 0, n, Float.NaN);
                            lse.put(lseOff + b * t + ti, Float.NaN);
                        } else {
                            for (int j = 0; j < ni; j++) row[j] -= max;
                            FloatKernels.unary(UnaryOp.EXP, row, row, ni);
                            double sum = FloatKernels.sum(row, ni);
                            float inv = (float) (1 / sum);
                            for (int j = 0; j < ni; j++) row[j] *= inv;
                            java.util.Arrays.fill(row, ni, n, 0f);
                            lse.put(lseOff + b * t + ti, max + (float) Math.log(sum));
                        }
                        weights.put(i * n, row, 0, n);
                    }
                    Blas.sgemmSingle(false, false, rows, e, n, 1f, weights, 0, n, vv.buf, vv.base[b], vv.rowStride,
                            0f, ov.buf, ov.base[b] + t0 * ov.rowStride, ov.rowStride);
                }
            }
        });
    }

    /**
     * Per matrix and block of query rows, with P recomputed from the scores and the row log-sum-exp (as
     * FlashAttention does): dV += P^T dO, dP = dO V^T, dS = P (dP - rowsum(P dP)) scale, dQ = dS K, dK += dS^T Q,
     * each a GEMM; only the gradients asked for are computed.
     */
    private static void backward(AttentionOp op, View qv, View kv, View vv, View gv, Tensor lseT, View dqv, View dkv, View dvv, Mask mask) {
        int nb = qv.base.length, t = qv.rows, d = qv.cols, s = kv.rows, e = vv.cols;
        float scale = (float) op.scale();
        boolean needQK = dqv != null || dkv != null;
        FloatBuffer lse = ((CpuStorage) lseT.storage()).floats("attention");
        int lseOff = (int) lseT.offset();
        Parallel.forRange(nb, 1, (lo, hi) -> {
            int cap = Math.min(BLOCK, t) * s;
            FloatBuffer weights = scratch(0, cap), dScores = scratch(1, cap);
            float[] p = new float[s], dp = new float[s];
            for (int b = (int) lo; b < hi; b++) {
                if (dkv != null) dkv.zero(b);                                   // accumulated over the blocks
                if (dvv != null) dvv.zero(b);
                for (int t0 = 0; t0 < t; t0 += BLOCK) {
                    int rows = Math.min(BLOCK, t - t0), n = keys(op, t0 + rows - 1, s);
                    scores(qv, kv, b, t0, rows, n, scale, weights);
                    if (mask == null && NativeKernels.ENABLED)
                        NativeKernels.attentionWeightRows(weights, rows, n, t0, op.causal(), s, lse, lseOff + (long) b * t + t0);
                    else for (int i = 0; i < rows; i++) {
                        int ti = t0 + i, ni = keys(op, ti, s);
                        float l = lse.get(lseOff + b * t + ti);
                        weights.get(i * n, p, 0, n);
                        if (l != l) ni = 0;                                      // attended nothing: no gradient flows through it
                        else {
                            if (mask != null) mask.apply(b, ti, p, ni);
                            for (int j = 0; j < ni; j++) p[j] -= l;
                            FloatKernels.unary(UnaryOp.EXP, p, p, ni);
                        }
                        java.util.Arrays.fill(p, ni, n, 0f);
                        weights.put(i * n, p, 0, n);
                    }
                    int gAt = gv.base[b] + t0 * gv.rowStride;
                    if (dvv != null)
                        Blas.sgemmSingle(true, false, n, e, rows, 1f, weights, 0, n, gv.buf, gAt, gv.rowStride, 1f, dvv.buf, dvv.base[b], dvv.rowStride);
                    if (!needQK) continue;
                    Blas.sgemmSingle(false, true, rows, n, e, 1f, gv.buf, gAt, gv.rowStride, vv.buf, vv.base[b], vv.rowStride, 0f, dScores, 0, n);
                    if (NativeKernels.ENABLED) NativeKernels.attentionScoreGradRows(weights, dScores, rows, n, scale);
                    else for (int i = 0; i < rows; i++) {
                        weights.get(i * n, p, 0, n);
                        dScores.get(i * n, dp, 0, n);
                        float pdp = (float) FloatKernels.dot(p, dp, n);          // zero weights add nothing
                        for (int j = 0; j < n; j++) dp[j] = p[j] * (dp[j] - pdp) * scale;
                        dScores.put(i * n, dp, 0, n);
                    }
                    if (dqv != null)
                        Blas.sgemmSingle(false, false, rows, d, n, 1f, dScores, 0, n, kv.buf, kv.base[b], kv.rowStride,
                                0f, dqv.buf, dqv.base[b] + t0 * dqv.rowStride, dqv.rowStride);
                    if (dkv != null)
                        Blas.sgemmSingle(true, false, n, d, rows, 1f, dScores, 0, n, qv.buf, qv.base[b] + t0 * qv.rowStride, qv.rowStride,
                                1f, dkv.buf, dkv.base[b], dkv.rowStride);
                }
            }
        });
    }
}
