package dev.fluxion.nn;

import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.CrossEntropyOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/** Loss functions (mean reduction, as PyTorch's defaults). Under {@link Autocast} they compute and return float32. */
public final class Losses {
    private Losses() {}

    public static final long IGNORE_INDEX = -100;

    /** Cross-entropy of logits (N, C) or (..., C) against class ids (N) or (...) int64. */
    public static Tensor crossEntropy(Tensor logits, Tensor targets) { return crossEntropy(logits, targets, IGNORE_INDEX, 0); }

    /**
     * Cross-entropy with targets equal to ignoreIndex left out of the mean, and label smoothing eps:
     * loss = (1 - eps) * nll + eps * mean over classes of -log p (as torch.nn.functional.cross_entropy).
     */
    public static Tensor crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing) {
        if (labelSmoothing < 0 || labelSmoothing > 1)
            throw new IllegalArgumentException("crossEntropy: labelSmoothing must be in [0, 1], got " + labelSmoothing);
        Tensor flat = flatLogits("crossEntropy", Autocast.cast(Autocast.Policy.FLOAT32, logits), targets);
        Tensor ids = targets.reshape(-1);
        // on a GPU the fused kernel checks the targets and reports a bad one at the next read (no host wait here)
        if (ids.device().kind() == dev.fluxion.tensor.Device.Kind.CPU || labelSmoothing != 0) checkTargets("crossEntropy", ids, flat.size(1), ignoreIndex);
        return new CrossEntropyOp(ignoreIndex, labelSmoothing).apply(flat, ids);   // one fused op: softmax, nll and mean
    }

    /** Negative log-likelihood of log-probabilities (N, C) against class ids (N) int64. */
    public static Tensor nll(Tensor logProbs, Tensor targets, long ignoreIndex) {
        return weightedNll("nll", flatLogits("nll", Autocast.cast(Autocast.Policy.FLOAT32, logProbs), targets), targets.reshape(-1), ignoreIndex, 0);
    }

    private static Tensor flatLogits(String op, Tensor logits, Tensor targets) {
        if (targets.dtype() != DType.INT64) throw new IllegalArgumentException(op + ": targets must be int64 class ids, got " + targets.dtype());
        int[] ls = logits.shape(), ts = targets.shape();
        if (ls.length != ts.length + 1 || !java.util.Arrays.equals(java.util.Arrays.copyOf(ls, ts.length), ts))
            throw new IllegalArgumentException(op + ": logits " + Shape.str(ls) + " and targets " + Shape.str(ts) + " must be (..., C) and (...)");
        return logits.reshape(-1, ls[ls.length - 1]);
    }

    /** Refuses a target outside [0, classes) that is not ignoreIndex, naming its position (a kernel could not). */
    private static void checkTargets(String op, Tensor targets, int classes, long ignoreIndex) {
        long[] t = targets.toLongArray();
        for (int i = 0; i < t.length; i++)
            if (t[i] != ignoreIndex && (t[i] < 0 || t[i] >= classes))
                throw new IndexOutOfBoundsException(op + ": target " + t[i] + " at position " + i + " is outside [0, " + classes + ")");
    }

    private static Tensor weightedNll(String op, Tensor logp, Tensor targets, long ignoreIndex, double eps) {
        int classes = logp.size(1);
        long[] t = targets.toLongArray();
        long[] safe = new long[t.length];
        float[] valid = new float[t.length];
        int count = 0;
        for (int i = 0; i < t.length; i++) {
            if (t[i] == ignoreIndex) continue;
            if (t[i] < 0 || t[i] >= classes)
                throw new IndexOutOfBoundsException(op + ": target " + t[i] + " at position " + i + " is outside [0, " + classes + ")");
            safe[i] = t[i];
            valid[i] = 1;
            count++;
        }
        Tensor mask = Tensor.of(valid, t.length, 1).to(logp.dtype()).to(logp.device());          // (N, 1)
        Tensor picked = logp.gather(1, Tensor.of(safe, t.length, 1).to(logp.device())).neg();    // (N, 1)
        Tensor perRow = eps == 0 ? picked : picked.mul(1 - eps).add(logp.mean(1, true).neg().mul(eps));
        return perRow.mul(mask).sum().div(count == 0 ? Double.NaN : count);   // all ignored: NaN, as PyTorch
    }

    /** Mean squared error. */
    public static Tensor mse(Tensor prediction, Tensor target) {
        if (!java.util.Arrays.equals(prediction.shape(), target.shape()))
            throw new IllegalArgumentException("mse: prediction " + Shape.str(prediction.shape()) + " and target " + Shape.str(target.shape()) + " differ in shape");
        prediction = Autocast.cast(Autocast.Policy.FLOAT32, prediction);
        target = Autocast.cast(Autocast.Policy.FLOAT32, target);
        Tensor d = prediction.sub(target);
        return d.mul(d).mean();
    }

    /** Binary cross-entropy on logits, computed stably: max(x, 0) - x*y + log(1 + exp(-|x|)). */
    public static Tensor bceWithLogits(Tensor logits, Tensor targets) {
        if (!java.util.Arrays.equals(logits.shape(), targets.shape()))
            throw new IllegalArgumentException("bceWithLogits: logits " + Shape.str(logits.shape()) + " and targets " + Shape.str(targets.shape()) + " differ in shape");
        logits = Autocast.cast(Autocast.Policy.FLOAT32, logits);
        targets = Autocast.cast(Autocast.Policy.FLOAT32, targets);
        Tensor softplus = logits.abs().neg().exp().add(1).log();
        return logits.relu().sub(logits.mul(targets)).add(softplus).mean();
    }
}
