package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;

/**
 * Fused CUDA kernels beyond the primitive backend ops: LayerNorm / RMSNorm forward and backward, fused
 * softmax backward, fused cross-entropy forward and backward, embedding backward. Each is one or two kernel
 * launches where the composition of primitive ops takes several passes over memory. They are not recorded
 * for autograd: an autodiff rule calls the forward and backward pair. Inputs must be CUDA tensors of
 * float32, float16, bfloat16 or float64; non-contiguous inputs are copied first.
 *
 * <pre>{@code
 * var ln = Fused.layerNorm(x, weight, bias, 1e-5);                       // x: [..., C]
 * var g = Fused.layerNormBackward(dy, x, weight, ln.mean(), ln.rstd(), true);
 * }</pre>
 */
public final class Fused {
    private Fused() {}

    /** y: like x; mean and rstd: [rows] in float32 (float64 for float64 x); mean is null for RMSNorm. */
    public record Norm(Tensor y, Tensor mean, Tensor rstd) {}

    /** dx: like x; dweight, dbias: [C] or null when there is no weight / bias. */
    public record NormGrads(Tensor dx, Tensor dweight, Tensor dbias) {}

    /** loss: [N] per-row losses (0 where the target is ignored); lse: [N] log-sum-exp saved for backward. */
    public record CrossEntropy(Tensor loss, Tensor lse) {}

    /** y = (x - mean) / sqrt(var + eps) * weight + bias over the last dim; weight and bias may be null. x: [..., C]. */
    public static Norm layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) { return norm("layerNorm", x, weight, bias, eps, false); }

    /** y = x / sqrt(mean(x^2) + eps) * weight over the last dim; weight may be null. x: [..., C]. */
    public static Norm rmsNorm(Tensor x, Tensor weight, double eps) { return norm("rmsNorm", x, weight, null, eps, true); }

    private static Norm norm(String op, Tensor x, Tensor weight, Tensor bias, double eps, boolean rms) {
        CudaDevice d = device(op, x);
        checkFloat(op, x);
        int cols = x.size(-1), rows = Shape.dimSize(op, x.numel() / Math.max(cols, 1));   // mean and rstd are [rows]
        checkParam(op, "weight", weight, x, cols);
        checkParam(op, "bias", bias, x, cols);
        Tensor xc = contiguous(d, x), wc = contiguous(d, weight), bc = contiguous(d, bias);
        DType acc = Codes.accumulator(x.dtype());
        Tensor y = Tensor.empty(x.dtype(), d.device, x.shape());
        Tensor mean = rms ? null : Tensor.empty(acc, d.device, rows), rstd = Tensor.empty(acc, d.device, rows);
        if (rows > 0 && cols > 0)
            d.kernels.launch("fx_norm_fwd_" + Codes.suffix(x.dtype()), blocksForRows(d, rows), 1, 1, CudaReduce.rowThreads(cols), 1, 1,
                    KernelArgs.start().i64(rows).i64(cols).ptr(xc).ptr(wc).ptr(bc).ptr(y).ptr(mean).ptr(rstd).f32((float) eps).i32(rms ? 1 : 0));
        release(xc, x);
        release(wc, weight);
        release(bc, bias);
        return new Norm(y, mean, rstd);
    }

    /** Gradients of {@link #layerNorm}; hasBias says whether to compute dbias. */
    public static NormGrads layerNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor mean, Tensor rstd, boolean hasBias) {
        return normBackward("layerNormBackward", dy, x, weight, mean, rstd, hasBias, false);
    }

    /** Gradients of {@link #rmsNorm}. */
    public static NormGrads rmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rstd) {
        return normBackward("rmsNormBackward", dy, x, weight, null, rstd, false, true);
    }

    private static NormGrads normBackward(String op, Tensor dy, Tensor x, Tensor weight, Tensor mean, Tensor rstd, boolean hasBias, boolean rms) {
        CudaDevice d = device(op, x);
        checkFloat(op, x);
        sameShape(op, "dy", dy, x);
        int cols = x.size(-1), rows = Shape.dimSize(op, x.numel() / Math.max(cols, 1));
        checkParam(op, "weight", weight, x, cols);
        Tensor dyc = contiguous(d, dy), xc = contiguous(d, x), wc = contiguous(d, weight);
        DType acc = Codes.accumulator(x.dtype());
        int blocks = blocksForRows(d, rows);
        Tensor dx = Tensor.empty(x.dtype(), d.device, x.shape());
        Tensor dwPart = weight != null ? Tensor.empty(acc, d.device, blocks, cols) : null;
        Tensor dbPart = hasBias ? Tensor.empty(acc, d.device, blocks, cols) : null;
        Tensor dw = weight != null ? Tensor.empty(x.dtype(), d.device, cols) : null;
        Tensor db = hasBias ? Tensor.empty(x.dtype(), d.device, cols) : null;
        if (rows > 0 && cols > 0) {
            d.kernels.launch("fx_norm_bwd_" + Codes.suffix(x.dtype()), blocks, 1, 1, CudaReduce.rowThreads(cols), 1, 1,
                    KernelArgs.start().i64(rows).i64(cols).ptr(dyc).ptr(xc).ptr(wc).ptr(mean).ptr(rstd).ptr(dx).ptr(dwPart).ptr(dbPart).i32(rms ? 1 : 0));
            if (dw != null) sumPartials(d, blocks, cols, dwPart, dw);
            if (db != null) sumPartials(d, blocks, cols, dbPart, db);
        } else {
            if (dw != null) CudaElementwise.fill(d, dw, 0);
            if (db != null) CudaElementwise.fill(d, db, 0);
        }
        if (dwPart != null) dwPart.close();
        if (dbPart != null) dbPart.close();
        release(dyc, dy);
        release(xc, x);
        release(wc, weight);
        return new NormGrads(dx, dw, db);
    }

    private static void sumPartials(CudaDevice d, int parts, int cols, Tensor part, Tensor out) {
        d.kernels.launch("fx_sum_partials_" + Codes.suffix(out.dtype()), cols, KernelArgs.start().i32(parts).i64(cols).ptr(part).ptr(out));
    }

    /** The gradient of softmax (log = false) or log-softmax (log = true) over the last dim, from its output y. */
    public static Tensor softmaxBackward(Tensor y, Tensor dy, boolean log) {
        CudaDevice d = device("softmaxBackward", y);
        checkFloat("softmaxBackward", y);
        sameShape("softmaxBackward", "dy", dy, y);
        int cols = y.dim() == 0 ? 1 : y.size(-1);
        long rows = cols == 0 ? 0 : y.numel() / cols;
        Tensor yc = contiguous(d, y), gc = contiguous(d, dy);
        Tensor dx = Tensor.empty(y.dtype(), d.device, y.shape());
        if (rows > 0)
            d.kernels.launch("fx_softmax_bwd_" + Codes.suffix(y.dtype()), blocksForRows(d, rows), 1, 1, CudaReduce.rowThreads(cols), 1, 1,
                    KernelArgs.start().i64(rows).i64(cols).ptr(yc).ptr(gc).ptr(dx).i32(log ? 1 : 0));
        release(yc, y);
        release(gc, dy);
        return dx;
    }

    /**
     * Per-row cross-entropy of logits [N, C] against class ids [N] (int64 or int32); rows whose id is ignoreIndex
     * get loss 0. The mean over counted rows is {@code loss.sum() / targets.ne(ignoreIndex).sum()}.
     * An id outside [0, C) is reported at the next synchronisation.
     */
    public static CrossEntropy crossEntropy(Tensor logits, Tensor targets, long ignoreIndex) {
        CudaDevice d = device("crossEntropy", logits);
        checkFloat("crossEntropy", logits);
        int rows = checkTargets("crossEntropy", logits, targets);
        int cols = logits.size(1);
        DType acc = Codes.accumulator(logits.dtype());
        Tensor lc = contiguous(d, logits), tc = contiguous(d, targets);
        Tensor loss = Tensor.empty(acc, d.device, rows), lse = Tensor.empty(acc, d.device, rows);
        if (rows > 0)
            d.kernels.launch("fx_cross_entropy_fwd_" + Codes.suffix(logits.dtype()), blocksForRows(d, rows), 1, 1, CudaReduce.rowThreads(cols), 1, 1,
                    KernelArgs.start().i64(rows).i64(cols).ptr(lc).ptr(tc).i32(CudaIndexing.is64(targets)).i64(ignoreIndex).ptr(loss).ptr(lse)
                            .ptr(d.errors.address()));
        release(lc, logits);
        release(tc, targets);
        return new CrossEntropy(loss, lse);
    }

    /**
     * dlogits = (softmax(logits) - onehot(targets)) * dloss[row], zero for ignored rows. dloss: [N] in the loss
     * dtype, or a 0-dim tensor applied to every row (e.g. 1 / count for a mean).
     */
    public static Tensor crossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor dloss, long ignoreIndex) {
        CudaDevice d = device("crossEntropyBackward", logits);
        checkFloat("crossEntropyBackward", logits);
        int rows = checkTargets("crossEntropyBackward", logits, targets);
        int cols = logits.size(1);
        DType acc = Codes.accumulator(logits.dtype());
        if (lse.dtype() != acc || dloss.dtype() != acc)
            throw new IllegalArgumentException("crossEntropyBackward: lse and dloss must be " + acc + " for " + logits.dtype() + " logits, got "
                    + lse.dtype() + " and " + dloss.dtype());
        if (dloss.numel() != 1 && dloss.numel() != rows)
            throw new IllegalArgumentException("crossEntropyBackward: dloss must have 1 or " + rows + " elements, got shape " + Arrays.toString(dloss.shape()));
        Tensor lc = contiguous(d, logits), tc = contiguous(d, targets), sc = contiguous(d, lse), gc = contiguous(d, dloss);
        Tensor dx = Tensor.empty(logits.dtype(), d.device, logits.shape());
        if (rows > 0)
            d.kernels.launch("fx_cross_entropy_bwd_" + Codes.suffix(logits.dtype()), blocksForRows(d, rows), 1, 1, CudaReduce.rowThreads(cols), 1, 1,
                    KernelArgs.start().i64(rows).i64(cols).ptr(lc).ptr(tc).i32(CudaIndexing.is64(targets)).i64(ignoreIndex).ptr(sc).ptr(gc)
                            .i64(dloss.numel() == 1 ? 0 : 1).ptr(dx));
        release(lc, logits);
        release(tc, targets);
        release(sc, lse);
        release(gc, dloss);
        return dx;
    }

    /**
     * The gradient of {@code Tensor.embedding(weight [vocab, D], ids)}: dweight[ids[i]] += dout[i], in dout's dtype
     * (accumulated in float32, or float64). Rows whose id is paddingIdx contribute nothing; a negative paddingIdx
     * means none, and then every id (-1 too) must be in [0, vocab): the kernel gets a separate has-padding flag.
     */
    public static Tensor embeddingBackward(Tensor ids, Tensor dout, int vocab, long paddingIdx) {
        CudaDevice d = device("embeddingBackward", dout);
        checkFloat("embeddingBackward", dout);
        int dim = dout.size(-1);
        long n = ids.numel();
        if (dout.numel() != n * dim)
            throw new IllegalArgumentException("embeddingBackward: dout " + Arrays.toString(dout.shape()) + " must be ids " + Arrays.toString(ids.shape()) + " + [D]");
        DType acc = Codes.accumulator(dout.dtype());
        Tensor ic = contiguous(d, ids), gc = contiguous(d, dout);
        Tensor dw = Tensor.empty(acc, d.device, vocab, dim);
        CudaElementwise.fill(d, dw, 0);
        if (n > 0 && dim > 0)
            d.kernels.launch("fx_embedding_bwd_" + Codes.suffix(dout.dtype()), (long) n * dim, KernelArgs.start().i64(n).i64(dim).ptr(ic)
                    .i32(CudaIndexing.is64(ids)).i64(vocab).i32(paddingIdx >= 0 ? 1 : 0).i64(paddingIdx).ptr(gc).ptr(dw).ptr(d.errors.address()));
        release(ic, ids);
        release(gc, dout);
        if (acc == dout.dtype()) return dw;
        Tensor out = Tensor.empty(dout.dtype(), d.device, vocab, dim);
        CudaElementwise.copy(d, dw, out);
        dw.close();
        return out;
    }

    // ---------------------------------------------------------------- checks

    static CudaDevice device(String op, Tensor t) {
        Device dev = t.device();
        if (dev.kind() != Device.Kind.CUDA) throw new IllegalArgumentException(op + ": expects CUDA tensors, got one on " + dev + "; move it with .to(Device.cuda(0))");
        return CudaBackend.of(dev).cudaDevice();
    }

    private static void checkFloat(String op, Tensor t) {
        if (!t.dtype().isFloatingPoint()) throw new IllegalArgumentException(op + ": expects a floating-point tensor, got " + t.dtype());
        if (t.dim() == 0 && !op.startsWith("softmax")) throw new IllegalArgumentException(op + ": expects at least 1 dim, got a 0-dim tensor");
    }

    private static void checkParam(String op, String name, Tensor p, Tensor x, int cols) {
        if (p == null) return;
        if (p.numel() != cols || p.dim() != 1)
            throw new IllegalArgumentException(op + ": " + name + " must have shape [" + cols + "], got " + Arrays.toString(p.shape()));
        if (p.dtype() != x.dtype() || !p.device().equals(x.device()))
            throw new IllegalArgumentException(op + ": " + name + " is " + p.dtype() + " on " + p.device() + ", expected " + x.dtype() + " on " + x.device());
    }

    private static void sameShape(String op, String name, Tensor a, Tensor x) {
        if (!Arrays.equals(a.shape(), x.shape()) || a.dtype() != x.dtype() || !a.device().equals(x.device()))
            throw new IllegalArgumentException(op + ": " + name + " " + a.dtype() + Arrays.toString(a.shape()) + " on " + a.device() + " must match "
                    + x.dtype() + Arrays.toString(x.shape()) + " on " + x.device());
    }

    private static int checkTargets(String op, Tensor logits, Tensor targets) {
        if (logits.dim() != 2) throw new IllegalArgumentException(op + ": logits must be [N, C], got " + Arrays.toString(logits.shape()));
        if (targets.dim() != 1 || targets.size(0) != logits.size(0))
            throw new IllegalArgumentException(op + ": targets must be [" + logits.size(0) + "], got " + Arrays.toString(targets.shape()));
        if (!targets.device().equals(logits.device()))
            throw new IllegalArgumentException(op + ": targets on " + targets.device() + ", logits on " + logits.device());
        CudaIndexing.is64(targets);
        return logits.size(0);
    }

    private static Tensor contiguous(CudaDevice d, Tensor t) { return t == null ? null : CudaReduce.contiguous(d, t); }

    /** Frees a contiguous copy made for a kernel (in stream order, so after the kernel that reads it). */
    static void release(Tensor copy, Tensor original) {
        if (copy != null && copy != original) copy.close();
    }

    private static int blocksForRows(CudaDevice d, long rows) { return (int) Math.max(1, Math.min(rows, 32L * d.multiprocessors)); }
}
