package dev.fluxion.tensor;

import java.util.Arrays;

/**
 * Scaled dot-product attention, as torch.nn.functional.scaled_dot_product_attention's math path:
 * P = softmax(q k^T * scale, masked), out = (P * drop) v. Inputs, in this order: q (..., T, D), k (..., S, D),
 * v (..., S, E), then a bool mask broadcastable to (..., T, S), true where a query may attend a key (when
 * {@code masked}), then a dropout multiplier of the scores' shape, 0 or 1/(1-p) (when {@code dropout}).
 * With {@code causal}, query t also never attends key s > t. A query that may attend nothing gets NaN
 * weights, as PyTorch's math path. State: P (..., T, S), or, from a kernel that never writes P (the CPU
 * one), the row log-sum-exp of the masked scaled scores (..., T), from which backward recomputes P (a kernel may keep
 * more state after it for its own backward: CUDA's keeps the output).
 *
 * <p>Backward keeps q, k, v, the dropout multiplier and P, never the scores or the masked scores that the
 * composed ops would keep: with Pd = P * drop, dv = Pd^T g, dP = (g v^T) * drop,
 * dS = P (dP - rowsum(dP P)), dq = dS k scale, dk = dS^T q scale.
 *
 * @param scale  multiplies q k^T (1/sqrt(D) for attention)
 * @param causal whether key s > query t is masked out
 * @param masked whether a bool mask input follows v
 * @param dropout whether a dropout multiplier input comes last
 */
public record AttentionOp(double scale, boolean causal, boolean masked, boolean dropout) implements FusedOp {
    public AttentionOp {
        if (!(scale > 0) || Double.isInfinite(scale)) throw new IllegalArgumentException("attention: scale must be finite and > 0, got " + scale);
    }

    @Override public String name() { return "attention"; }

    private int inputCount() { return 3 + (masked ? 1 : 0) + (dropout ? 1 : 0); }

    @Override public void check(Tensor[] in) {
        if (in.length != inputCount())
            throw new IllegalArgumentException("attention: takes q, k, v" + (masked ? ", mask" : "") + (dropout ? ", dropout multiplier" : "")
                    + " (" + inputCount() + " inputs), got " + in.length);
        Tensor q = in[0], k = in[1], v = in[2];
        if (!q.dtype().isFloatingPoint())
            throw new IllegalArgumentException("attention: not defined for " + q.dtype() + " tensors; cast to a floating dtype first");
        Elementwise.checkPair("attention", q, k);
        Elementwise.checkPair("attention", q, v);
        if (q.dim() < 2 || k.dim() != q.dim() || v.dim() != q.dim())
            throw new IllegalArgumentException("attention: q, k, v need the same rank >= 2, got " + Shape.str(q.shape()) + ", "
                    + Shape.str(k.shape()) + ", " + Shape.str(v.shape()));
        int r = q.dim();
        int[] qs = q.shape(), ks = k.shape(), vs = v.shape();
        if (!Arrays.equals(Arrays.copyOf(qs, r - 2), Arrays.copyOf(ks, r - 2)) || !Arrays.equals(Arrays.copyOf(qs, r - 2), Arrays.copyOf(vs, r - 2))
                || qs[r - 1] != ks[r - 1] || ks[r - 2] != vs[r - 2])
            throw new IllegalArgumentException("attention: q " + Shape.str(qs) + ", k " + Shape.str(ks) + ", v " + Shape.str(vs)
                    + " do not fit (..., T, D), (..., S, D), (..., S, E)");
        int[] scores = scoresShape(q, k);
        if (masked) {
            Tensor mask = in[3];
            if (mask.dtype() != DType.BOOL)
                throw new IllegalArgumentException("attention: mask must be bool (true = may attend), got " + mask.dtype());
            if (!Arrays.equals(Shape.broadcast("attention", scores, mask.shape()), scores))
                throw new IllegalArgumentException("attention: mask shape " + Shape.str(mask.shape()) + " does not broadcast to the scores " + Shape.str(scores));
        }
        if (dropout) {
            Tensor drop = in[inputCount() - 1];
            if (drop.dtype() != q.dtype() || !Arrays.equals(drop.shape(), scores))
                throw new IllegalArgumentException("attention: the dropout multiplier must be " + q.dtype() + " " + Shape.str(scores) + ", got "
                        + drop.dtype() + " " + Shape.str(drop.shape()));
        }
    }

    private static int[] scoresShape(Tensor q, Tensor k) {
        int[] s = q.shape();
        s[s.length - 1] = k.size(-2);
        return s;
    }

    @Override public Result compose(Tensor[] in) {
        Tensor q = in[0], k = in[1], v = in[2];
        Tensor att = q.matmul(k.transpose(-2, -1)).mul(scale);                       // (..., T, S)
        if (causal) {
            Tensor future = Tensor.ones(DType.FLOAT32, q.device(), q.size(-2), k.size(-2)).triu(1).ne(0);
            att = att.maskedFill(future, Double.NEGATIVE_INFINITY);
        }
        if (masked) att = Tensor.where(in[3], att, Tensor.full(Double.NEGATIVE_INFINITY, att.dtype(), att.device()));
        Tensor p = att.softmax(-1);
        Tensor pd = dropout ? p.mul(in[inputCount() - 1]) : p;
        return new Result(pd.matmul(v), p);
    }

    /** P = exp(q k^T scale - lse), masked positions 0, from a kernel's row log-sum-exp (NaN where a row attends nothing). */
    private Tensor weights(Saved s, Tensor q, Tensor k, Tensor lse) {
        Tensor att = q.matmul(k.transpose(-2, -1)).mul(scale).sub(lse.to(q.dtype()).unsqueeze(-1));
        if (causal) {
            Tensor future = Tensor.ones(DType.FLOAT32, q.device(), q.size(-2), k.size(-2)).triu(1).ne(0);
            att = att.maskedFill(future, Double.NEGATIVE_INFINITY);
        }
        if (masked) att = Tensor.where(s.input(3), att, Tensor.full(Double.NEGATIVE_INFINITY, att.dtype(), att.device()));
        return att.exp();
    }

    /** q, k, v, the mask (a kernel that keeps no P recomputes it with the mask) and the dropout multiplier. */
    @Override public Save save(boolean[] needsGrad) {
        if (masked) return dropout ? Save.inputs(0, 1, 2, 3, 4) : Save.inputs(0, 1, 2, 3);
        return dropout ? Save.inputs(0, 1, 2, inputCount() - 1) : Save.inputs(0, 1, 2);
    }

    /** Computed in the inputs' dtype (under autocast the output and P may have another). */
    @Override public Tensor[] backward(Saved s, Tensor gOut) {
        Tensor q = s.input(0), k = s.input(1), v = s.input(2);
        Tensor g = gOut.to(q.dtype()), p = s.state(0).dim() == q.dim() ? s.state(0).to(q.dtype()) : weights(s, q, k, s.state(0));
        // a query that may attend nothing has NaN weights; it must not spread NaN into every key's gradient
        if (masked || causal && q.size(-2) > k.size(-2)) p = Tensor.where(p.ne(p), Tensor.zeros(p.dtype(), p.device()), p);
        Tensor drop = dropout ? s.input(inputCount() - 1) : null;
        Tensor[] grads = new Tensor[inputCount()];
        if (s.needsGrad(2)) grads[2] = (drop != null ? p.mul(drop) : p).transpose(-2, -1).matmul(g);   // (..., S, E)
        if (s.needsGrad(0) || s.needsGrad(1)) {
            Tensor dp = g.matmul(v.transpose(-2, -1));                                                // (..., T, S)
            if (drop != null) dp = dp.mul(drop);
            Tensor ds = p.mul(dp.sub(dp.mul(p).sum(-1, true)));
            if (s.needsGrad(0)) grads[0] = ds.matmul(k).mul(scale);                                   // (..., T, D)
            if (s.needsGrad(1)) grads[1] = ds.transpose(-2, -1).matmul(q).mul(scale);                 // (..., S, D)
        }
        return grads;
    }
}
