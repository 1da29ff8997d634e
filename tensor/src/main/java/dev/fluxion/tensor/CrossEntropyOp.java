package dev.fluxion.tensor;

/**
 * Mean cross-entropy of logits against class ids, softmax and loss in one op (as
 * torch.nn.functional.cross_entropy with reduction='mean'): loss = sum over counted rows of
 * ((1 - s) (-log p[target]) + s mean over classes of (-log p)) / count, where p = softmax(logits), s the
 * label smoothing and rows whose target is ignoreIndex not counted (all ignored: a NaN loss and a 0
 * gradient, as PyTorch).
 * Inputs: logits (N, C) floating, targets (N) int64 -> a 0-dim loss in the logits' dtype.
 * State: lse = logsumexp(logits) per row ([N], logits' dtype or a wider accumulator) and count (0-dim).
 * Backward keeps logits, targets, lse and count: dlogits = (softmax - (1 - s) onehot - s / C) g / count on
 * counted rows, so the (N, C) log-probabilities are never kept.
 */
public record CrossEntropyOp(long ignoreIndex, double labelSmoothing) implements FusedOp {
    public CrossEntropyOp {
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new IllegalArgumentException("crossEntropy: labelSmoothing must be in [0, 1], got " + labelSmoothing);
    }

    @Override public String name() { return "cross_entropy"; }

    @Override public void check(Tensor[] in) {
        if (in.length != 2) throw new IllegalArgumentException("crossEntropy: takes logits and targets, got " + in.length + " inputs");
        Tensor logits = in[0], targets = in[1];
        if (!logits.dtype().isFloatingPoint())
            throw new IllegalArgumentException("crossEntropy: logits must be floating-point, got " + logits.dtype());
        if (targets.dtype() != DType.INT64) throw new IllegalArgumentException("crossEntropy: targets must be int64 class ids, got " + targets.dtype());
        if (logits.dim() != 2 || targets.dim() != 1 || targets.size(0) != logits.size(0))
            throw new IllegalArgumentException("crossEntropy: logits " + Shape.str(logits.shape()) + " and targets " + Shape.str(targets.shape())
                    + " must be (N, C) and (N)");
    }

    @Override public Result compose(Tensor[] in) {
        Tensor logits = in[0], targets = in[1];
        int n = logits.size(0);
        Tensor lse = logits.logsumexp(1, false);                                 // (N)
        Tensor logp = logits.sub(lse.reshape(n, 1));                             // (N, C)
        Tensor counted = targets.ne((double) ignoreIndex).to(logits.dtype());   // (N) 1 or 0
        Tensor picked = logp.gather(1, safeTargets(targets).reshape(n, 1)).reshape(n).neg();
        Tensor perRow = labelSmoothing == 0 ? picked
                : picked.mul(1 - labelSmoothing).add(logp.mean(1, false).neg().mul(labelSmoothing));
        Tensor count = counted.sum();
        return new Result(perRow.mul(counted).sum().div(count), lse, count);
    }

    @Override public Save save(boolean[] needsGrad) { return needsGrad[0] ? Save.inputs(0, 1) : Save.NOTHING; }

    @Override public Tensor[] backward(Saved s, Tensor g) {
        if (!s.needsGrad(0)) return new Tensor[] {null, null};
        Tensor logits = s.input(0), targets = s.input(1);
        int n = logits.size(0), c = logits.size(1);
        DType dt = logits.dtype();
        Tensor lse = s.state(0).reshape(n, 1), count = s.state(1);
        if (lse.dtype() != dt) lse = lse.to(dt);
        if (count.dtype() != dt) count = count.to(dt);
        // (N, 1): g / count on counted rows; count 0 (all ignored) gives 0, not 0 * inf = NaN, as PyTorch's gradient
        Tensor scale = targets.ne((double) ignoreIndex).to(dt).mul(g.div(count.clampMin(1))).reshape(n, 1);
        Tensor d = logits.sub(lse).exp().mul(scale);                                            // softmax * scale
        if (labelSmoothing != 0) d = d.sub(scale.mul(labelSmoothing / c));
        return new Tensor[] {d.scatterAdd(1, safeTargets(targets).reshape(n, 1), scale.mul(labelSmoothing - 1)), null};
    }

    /** Targets with ignored rows pointed at class 0 (their terms are multiplied by 0). */
    private Tensor safeTargets(Tensor targets) {
        return Tensor.where(targets.eq((double) ignoreIndex), Tensor.zeros(DType.INT64, targets.device()), targets);
    }
}
