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
 * bool mask, read in place with its broadcast strides): one query
 * row at a time, scores, softmax and the weighted values stay in a row buffer of S floats, so neither
 * the T x S weights nor a mask nor a scaled copy is ever written as a tensor. The state is the row
 * log-sum-exp (..., T); backward recomputes each row of weights from it (as FlashAttention does) and
 * computes only the gradients of inputs that need one. Work is split over the batch dims (B x H); each
 * piece owns its rows of every output, so the results do not depend on thread timing.
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
            return new View(((CpuStorage) x.storage()).floats("attention"), base, (int) st[r - 2], shape[r - 2], shape[r - 1]);
        }

        void read(int b, float[] dst) { for (int i = 0; i < rows; i++) buf.get(base[b] + i * rowStride, dst, i * cols, cols); }

        void write(int b, float[] src) { for (int i = 0; i < rows; i++) buf.put(base[b] + i * rowStride, src, i * cols, cols); }
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

    /** m (rows x cols) to mt (cols x rows). */
    private static void transpose(float[] m, int rows, int cols, float[] mt) {
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) mt[j * rows + i] = m[i * cols + j];
    }

    /** The keys query t may attend: all S, or 0..t when causal (top-left aligned, as PyTorch's is_causal). */
    private static int keys(AttentionOp op, int t, int s) { return op.causal() ? Math.min(t + 1, s) : s; }

    /** scores[0..n) = scale q_t . k_j (q_t scaled first) for the first n keys; qs: D floats of scratch. */
    private static void scores(float[] q, int t, int d, float scale, float[] kt, int s, int n, float[] qs, float[] out) {
        for (int i = 0; i < d; i++) qs[i] = q[t * d + i] * scale;
        FloatKernels.combineRows(qs, d, kt, 0, s, out, n);
    }

    private static void forward(AttentionOp op, View qv, View kv, View vv, View ov, Tensor lseT, Mask mask) {
        int nb = qv.base.length, t = qv.rows, d = qv.cols, s = kv.rows, e = vv.cols;
        float scale = (float) op.scale();
        FloatBuffer lse = ((CpuStorage) lseT.storage()).floats("attention");
        int lseOff = (int) lseT.offset();
        Parallel.forRange(nb, 1, (lo, hi) -> {
            float[] q = new float[t * d], k = new float[s * d], kt = new float[d * s], v = new float[s * e], o = new float[t * e];
            float[] row = new float[s], qs = new float[d], acc = new float[e], ls = new float[t];
            for (int b = (int) lo; b < hi; b++) {
                qv.read(b, q);
                kv.read(b, k);
                transpose(k, s, d, kt);
                vv.read(b, v);
                for (int i = 0; i < t; i++) {
                    int n = keys(op, i, s);
                    scores(q, i, d, scale, kt, s, n, qs, row);
                    if (mask != null) mask.apply(b, i, row, n);
                    float max = FloatKernels.max(row, n);
                    if (max == Float.NEGATIVE_INFINITY) {                 // may attend nothing: NaN, as PyTorch's math path
                        java.util.Arrays.fill(o, i * e, (i + 1) * e, Float.NaN);
                        ls[i] = Float.NaN;
                        continue;
                    }
                    for (int j = 0; j < n; j++) row[j] -= max;
                    FloatKernels.unary(UnaryOp.EXP, row, row, n);
                    double sum = FloatKernels.sum(row, n);
                    ls[i] = max + (float) Math.log(sum);
                    FloatKernels.combineRows(row, n, v, 0, e, acc, e);
                    float inv = (float) (1 / sum);
                    for (int j = 0; j < e; j++) o[i * e + j] = acc[j] * inv;
                }
                ov.write(b, o);
                lse.put(lseOff + b * t, ls, 0, t);
            }
        });
    }

    /**
     * With P recomputed row by row (p_j = exp(scale q_t . k_j - lse_t)): dv_j += p_j g_t, dp_j = g_t . v_j,
     * ds_j = p_j (dp_j - sum_j p_j dp_j) scale, dq_t = sum_j ds_j k_j, dk_j += ds_j q_t.
     */
    private static void backward(AttentionOp op, View qv, View kv, View vv, View gv, Tensor lseT, View dqv, View dkv, View dvv, Mask mask) {
        int nb = qv.base.length, t = qv.rows, d = qv.cols, s = kv.rows, e = vv.cols;
        float scale = (float) op.scale();
        boolean needQK = dqv != null || dkv != null;
        FloatBuffer lse = ((CpuStorage) lseT.storage()).floats("attention");
        int lseOff = (int) lseT.offset();
        Parallel.forRange(nb, 1, (lo, hi) -> {
            float[] q = new float[t * d], k = new float[s * d], kt = new float[d * s], v = new float[s * e], vt = new float[e * s];
            float[] g = new float[t * e], dq = new float[t * d], dk = new float[s * d], dv = new float[s * e];
            float[] p = new float[s], dp = new float[s], tmp = new float[s], qs = new float[d], gt = new float[e], dqRow = new float[d];
            for (int b = (int) lo; b < hi; b++) {
                qv.read(b, q);
                kv.read(b, k);
                transpose(k, s, d, kt);
                gv.read(b, g);
                if (needQK) { vv.read(b, v); transpose(v, s, e, vt); }
                java.util.Arrays.fill(dk, 0f);
                java.util.Arrays.fill(dv, 0f);
                for (int i = 0; i < t; i++) {
                    int n = keys(op, i, s);
                    float l = lse.get(lseOff + b * t + i);
                    if (l != l) {                                         // attended nothing: no gradient flows through it
                        java.util.Arrays.fill(dq, i * d, (i + 1) * d, 0f);
                        continue;
                    }
                    scores(q, i, d, scale, kt, s, n, qs, p);
                    if (mask != null) mask.apply(b, i, p, n);
                    for (int j = 0; j < n; j++) p[j] -= l;
                    FloatKernels.unary(UnaryOp.EXP, p, p, n);
                    if (dvv != null) FloatKernels.addOuter(p, n, g, i * e, dv, e);
                    if (!needQK) continue;
                    System.arraycopy(g, i * e, gt, 0, e);
                    FloatKernels.combineRows(gt, e, vt, 0, s, dp, n);
                    for (int j = 0; j < n; j++) tmp[j] = p[j] * dp[j];
                    float pdp = (float) FloatKernels.sum(tmp, n);
                    for (int j = 0; j < n; j++) dp[j] = p[j] * (dp[j] - pdp) * scale;          // ds, scaled
                    if (dqv != null) {
                        FloatKernels.combineRows(dp, n, k, 0, d, dqRow, d);
                        System.arraycopy(dqRow, 0, dq, i * d, d);
                    }
                    if (dkv != null) FloatKernels.addOuter(dp, n, q, i * d, dk, d);
                }
                if (dqv != null) dqv.write(b, dq);
                if (dkv != null) dkv.write(b, dk);
                if (dvv != null) dvv.write(b, dv);
            }
        });
    }
}
