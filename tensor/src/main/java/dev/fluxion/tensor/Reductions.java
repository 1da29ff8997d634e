package dev.fluxion.tensor;

import java.util.Arrays;

/** Reductions (sum, mean, max, min, arg*, var, logsumexp, norm) and softmax. */
final class Reductions {
    private Reductions() {}

    static Tensor sum(Tensor x, int[] dims, boolean keepdim) {
        x = Autocast.cast(Autocast.Policy.FLOAT32, x);   // under autocast sums (and so means) accumulate and return float32
        int[] d = Shape.dims("sum", dims, x.dim());
        if (!x.dtype().isFloatingPoint()) return x.backend().reduce(ReduceOp.SUM, x, d, keepdim);   // int64, see Backend.reduce
        return Autograd.record(new Op.Reduce(ReduceOp.SUM, d, keepdim), x.backend().reduce(ReduceOp.SUM, x, d, keepdim), x);
    }

    static Tensor mean(Tensor x, int[] dims, boolean keepdim) {
        requireFloat("mean", x);
        int[] d = Shape.dims("mean", dims, x.dim());
        return sum(x, d, keepdim).div(count(x, d));
    }

    static Tensor extreme(ReduceOp op, Tensor x, int[] dims, boolean keepdim) {
        int[] d = Shape.dims(op.opName(), dims, x.dim());
        for (int k : d)
            if (x.dim() > 0 && x.shape()[k] == 0)
                throw new IllegalArgumentException(op.opName() + ": cannot reduce dim " + k + " of size 0 in " + Shape.str(x.shape()));
        Tensor out = x.backend().reduce(op, x, d, keepdim);
        return x.dtype().isFloatingPoint() ? Autograd.record(new Op.Reduce(op, d, keepdim), out, x) : out;
    }

    static Tensor arg(ReduceOp op, Tensor x, int dim, boolean keepdim) {
        int d = Shape.dim(op.opName(), dim, x.dim());
        if (x.dim() > 0 && x.shape()[d] == 0)
            throw new IllegalArgumentException(op.opName() + ": cannot reduce dim " + dim + " of size 0 in " + Shape.str(x.shape()));
        if (x.dim() == 0) return Creation.full(0, DType.INT64, x.device(), new int[0]);  // the only element
        return x.backend().reduce(op, x, new int[] {d}, keepdim);
    }

    static Tensor var(Tensor x, int[] dims, boolean keepdim, int correction) {
        requireFloat("var", x);
        int[] d = Shape.dims("var", dims, x.dim());
        long n = count(x, d);
        Tensor centered = x.sub(mean(x, d, true));
        return sum(centered.mul(centered), d, keepdim).div(Math.max(n - correction, 0));
    }

    /**
     * sqrt(var), with a zero gradient where the result is 0 (a constant input), as PyTorch's std_backward;
     * plain sqrt would give 0 * inf = NaN there.
     */
    static Tensor std(Tensor x, int[] dims, boolean keepdim, int correction) {
        Tensor v = var(x, dims, keepdim, correction);
        Tensor zero = v.eq(0);
        return Tensor.where(zero, Tensor.zerosLike(v), Tensor.where(zero, Tensor.onesLike(v), v).sqrt());
    }

    static Tensor logsumexp(Tensor x, int[] dims, boolean keepdim) {
        requireFloat("logsumexp", x);
        int[] d = Shape.dims("logsumexp", dims, x.dim());
        Tensor m = extreme(ReduceOp.MAX, x.detach(), d, true);
        m = Tensor.where(m.abs().eq(Double.POSITIVE_INFINITY), Tensor.zerosLike(m), m); // all -inf rows: no shift
        Tensor out = sum(x.sub(m).exp(), d, true).log().add(m);
        return keepdim ? out : squeezeDims(out, d);
    }

    static Tensor norm(Tensor x, double p, int[] dims, boolean keepdim) {
        requireFloat("norm", x);
        if (p == 1) return sum(x.abs(), dims, keepdim);
        if (p == Double.POSITIVE_INFINITY) return extreme(ReduceOp.MAX, x.abs(), dims, keepdim);
        if (p <= 0) throw new IllegalArgumentException("norm: p must be > 0, got " + p);
        Tensor s = p == 2 ? sum(x.mul(x), dims, keepdim) : sum(x.abs().pow(p), dims, keepdim);
        // a zero vector's norm has gradient 0 (as PyTorch), not 0 * inf = NaN: the root reads 1 there and where() drops it
        Tensor isZero = s.eq(0);
        Tensor safe = Elementwise.where(isZero, Creation.full(1, s.dtype(), s.device(), new int[0]), s);
        return Elementwise.where(isZero, Creation.full(0, s.dtype(), s.device(), new int[0]), p == 2 ? safe.sqrt() : safe.pow(1 / p));
    }

    static Tensor softmax(Tensor x, int dim, boolean log) {
        requireFloat(log ? "logSoftmax" : "softmax", x);
        x = Autocast.cast(Autocast.Policy.FLOAT32, x);
        int d = Shape.dim(log ? "logSoftmax" : "softmax", dim, x.dim());
        Tensor out = x.backend().softmax(x, d, log);
        return Autograd.record(log ? new Op.LogSoftmax(d) : new Op.Softmax(d), out, x);
    }

    /** Layer norm in float32 under autocast (as PyTorch's autocast op list); see {@link LayerNormOp}. */
    static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        x = Autocast.cast(Autocast.Policy.FLOAT32, x);
        weight = Autocast.cast(Autocast.Policy.FLOAT32, weight);
        bias = Autocast.cast(Autocast.Policy.FLOAT32, bias);
        return new LayerNormOp(eps).apply(x, weight, bias);
    }

    /** Sums x down to target, which x's shape must broadcast from. */
    static Tensor sumTo(Tensor x, int[] target) {
        int[] sh = x.shape();
        if (Arrays.equals(sh, target)) return x.alive();
        int[] check = Shape.broadcast("sumTo", sh, target);
        if (!Arrays.equals(check, sh))
            throw new IllegalArgumentException("sumTo: shape " + Shape.str(target) + " does not broadcast to " + Shape.str(sh));
        int lead = sh.length - target.length;
        int[] dims = new int[sh.length];
        int k = 0;
        for (int i = 0; i < sh.length; i++) if (i < lead || target[i - lead] == 1 && sh[i] != 1) dims[k++] = i;
        if (k == 0) return x.reshape(target);
        Tensor s = sum(x, Arrays.copyOf(dims, k), true);
        return s.reshape(target);
    }

    private static Tensor squeezeDims(Tensor x, int[] dims) {
        int[] sh = x.shape();
        int[] out = new int[sh.length - dims.length];
        for (int i = 0, j = 0; i < sh.length; i++) if (Arrays.binarySearch(dims, i) < 0) out[j++] = sh[i];
        return x.reshape(out);
    }

    private static long count(Tensor x, int[] dims) {
        long n = 1;
        for (int d : dims) n *= x.shape()[d];
        return n;
    }

    private static void requireFloat(String op, Tensor x) {
        if (!x.dtype().isFloatingPoint())
            throw new IllegalArgumentException(op + ": not defined for " + x.dtype() + " tensors; cast to a floating dtype first");
    }
}
