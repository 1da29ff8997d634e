package dev.fluxion.nn;

import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.CrossEntropyOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;

/**
 * Cross-entropy and negative log-likelihood with PyTorch's options (torch.nn.functional.cross_entropy and
 * nll_loss with class-index targets): class weights, an ignored target value, label smoothing, a
 * reduction, and the class dimension anywhere.
 *
 * <p>Shapes, with the class dimension at {@link Options#classDim} (1 by default, as PyTorch): input (C)
 * with a 0-dim target (unbatched), or input (N, C, d1, ..., dk) with target (N, d1, ..., dk) int64; or a
 * floating target of the input's shape holding class probabilities (soft labels, see below).
 * Per element: loss = (1 - s) w[y] (-log p[y]) + (s / C) sum over c of w[c] (-log p[c]), 0 where y is
 * the ignored value (w = 1 without weights, s the label smoothing, p = softmax over the class dim).
 * MEAN divides the sum by the sum of w[y] over the targets not ignored (their count without weights), so
 * when every target is ignored the loss is NaN and the gradient 0, as PyTorch.
 *
 * <pre>{@code
 * var opts = CrossEntropy.Options.DEFAULT.withWeight(classWeights).withLabelSmoothing(0.1);
 * Tensor loss = Losses.crossEntropy(logits, targets, opts);   // logits (N, C, H, W), targets (N, H, W)
 * }</pre>
 */
public final class CrossEntropy {
    private CrossEntropy() {}

    /**
     * The options of {@link Losses#crossEntropy(Tensor, Tensor, Options)} and {@link Losses#nll(Tensor, Tensor, Options)}.
     *
     * @param weight per-class weights (C), floating, or null for none
     * @param ignoreIndex a target value that contributes nothing (PyTorch's default -100)
     * @param labelSmoothing s in [0, 1] (cross entropy only)
     * @param reduction NONE (the target's shape), SUM or MEAN
     * @param classDim the class dimension of an input with 2 or more dims (negative counts from the end);
     *                 ignored for a 1-dim input, whose only dim is the classes
     */
    public record Options(Tensor weight, long ignoreIndex, double labelSmoothing, Reduction reduction, int classDim) {
        /** PyTorch's defaults: no weights, ignore -100, no smoothing, mean, classes in dim 1. */
        public static final Options DEFAULT = new Options(null, Losses.IGNORE_INDEX, 0, Reduction.MEAN, 1);

        public Options {
            if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
                throw new IllegalArgumentException("crossEntropy: labelSmoothing must be in [0, 1], got " + labelSmoothing);
            if (reduction == null) throw new IllegalArgumentException("crossEntropy: reduction is null; use Reduction.MEAN for PyTorch's default");
            reduction.checkNotBatchMean("crossEntropy");
            if (weight != null && (weight.dim() != 1 || !weight.dtype().isFloatingPoint()))
                throw new IllegalArgumentException("crossEntropy: weight must be a 1-dim floating tensor of one weight per class, got "
                        + Shape.str(weight.shape()) + " " + weight.dtype());
        }

        public Options withWeight(Tensor w) { return new Options(w, ignoreIndex, labelSmoothing, reduction, classDim); }
        public Options withIgnoreIndex(long i) { return new Options(weight, i, labelSmoothing, reduction, classDim); }
        public Options withLabelSmoothing(double s) { return new Options(weight, ignoreIndex, s, reduction, classDim); }
        public Options withReduction(Reduction r) { return new Options(weight, ignoreIndex, labelSmoothing, r, classDim); }
        public Options withClassDim(int d) { return new Options(weight, ignoreIndex, labelSmoothing, reduction, d); }
    }

    static Tensor crossEntropy(Tensor input, Tensor target, Options o) {
        if (target.dtype().isFloatingPoint()) return withProbabilities(Autocast.cast(Autocast.Policy.FLOAT32, input), target, o);
        Flat f = flatten("crossEntropy", Autocast.cast(Autocast.Policy.FLOAT32, input), target, o);
        if (o.weight() == null && o.reduction() == Reduction.MEAN)       // the fused op, as the GPT's training step uses
            return new CrossEntropyOp(o.ignoreIndex(), o.labelSmoothing()).apply(f.scores, f.ids);
        return reduce(f, f.scores.logSoftmax(1), o, o.labelSmoothing());
    }

    static Tensor nll(Tensor logProbs, Tensor target, Options o) {
        if (o.labelSmoothing() != 0) throw new IllegalArgumentException("nll: label smoothing applies to crossEntropy only, got " + o.labelSmoothing());
        Flat f = flatten("nll", Autocast.cast(Autocast.Policy.FLOAT32, logProbs), target, o);
        return reduce(f, f.scores, o, 0);
    }

    /**
     * Targets given as class probabilities of the input's shape (soft labels, as PyTorch): per element
     * -sum over c of w[c] t[c] log p[c], with t smoothed to (1 - s) t + s / C; MEAN divides by the number of
     * elements (N d1 ... dk), not by weights. ignoreIndex does not apply.
     */
    private static Tensor withProbabilities(Tensor input, Tensor target, Options o) {
        int[] is = input.shape();
        if (!Arrays.equals(is, target.shape()))
            throw new IllegalArgumentException("crossEntropy: probability targets " + Shape.str(target.shape()) + " must have the logits' shape " + Shape.str(is));
        if (!input.dtype().isFloatingPoint()) throw new IllegalArgumentException("crossEntropy: input must be floating-point, got " + input.dtype());
        int cd = is.length == 1 ? 0 : o.classDim() < 0 ? o.classDim() + is.length : o.classDim();
        if (cd < 0 || cd >= is.length)
            throw new IllegalArgumentException("crossEntropy: classDim " + o.classDim() + " is out of range for input " + Shape.str(is));
        int c = is[cd];
        if (o.weight() != null && o.weight().size(0) != c)
            throw new IllegalArgumentException("crossEntropy: weight has " + o.weight().size(0) + " entries for " + c + " classes");
        int[] wShape = new int[is.length];
        Arrays.fill(wShape, 1);
        wShape[cd] = c;
        Tensor t = target.to(input.dtype());
        if (o.labelSmoothing() != 0) t = t.mul(1 - o.labelSmoothing()).add(o.labelSmoothing() / c);
        Tensor prod = input.logSoftmax(cd).mul(t);
        if (o.weight() != null) prod = prod.mul(o.weight().to(input.dtype()).to(input.device()).reshape(wShape));
        Tensor per = prod.sum(cd, false).neg();                 // the input's shape without the class dim
        return switch (o.reduction()) {
            case NONE -> per;
            case SUM -> per.sum();
            case MEAN -> per.mean();
            case BATCHMEAN -> throw new IllegalStateException("unreachable: Options refuses BATCHMEAN");
        };
    }

    /** The scores as (M, C) with the class dim last, the targets as (M), and the shape a NONE loss takes. */
    private record Flat(Tensor scores, Tensor ids, int[] targetShape) {}

    private static Flat flatten(String op, Tensor input, Tensor target, Options o) {
        if (target.dtype() != DType.INT64) throw new IllegalArgumentException(op + ": targets must be int64 class ids, got " + target.dtype());
        if (!input.dtype().isFloatingPoint()) throw new IllegalArgumentException(op + ": input must be floating-point, got " + input.dtype());
        int[] is = input.shape(), ts = target.shape();
        if (is.length == 0) throw new IllegalArgumentException(op + ": input is 0-dim; expected (C) or (N, C, ...)");
        int cd = is.length == 1 ? 0 : o.classDim() < 0 ? o.classDim() + is.length : o.classDim();
        if (cd < 0 || cd >= is.length)
            throw new IllegalArgumentException(op + ": classDim " + o.classDim() + " is out of range for input " + Shape.str(is));
        int[] expected = new int[is.length - 1];
        for (int i = 0, k = 0; i < is.length; i++) if (i != cd) expected[k++] = is[i];
        if (!Arrays.equals(expected, ts))
            throw new IllegalArgumentException(op + ": " + (op.equals("nll") ? "log-probabilities " : "logits ") + Shape.str(is) + " and targets "
                    + Shape.str(ts) + " do not fit: with the classes in dim " + cd + " the targets must be " + Shape.str(expected));
        int classes = is[cd];
        if (o.weight() != null && o.weight().size(0) != classes)
            throw new IllegalArgumentException(op + ": weight has " + o.weight().size(0) + " entries for " + classes + " classes");
        Tensor ids = target.reshape(-1);
        checkTargets(op, ids, classes, o.ignoreIndex());
        Tensor last = input;
        if (cd != is.length - 1) {                    // move the classes last: (N, C, d...) -> (N, d..., C)
            int[] order = new int[is.length];
            for (int i = 0, k = 0; i < is.length; i++) if (i != cd) order[k++] = i;
            order[is.length - 1] = cd;
            last = input.permute(order);
        }
        return new Flat(last.reshape(-1, classes), ids, ts);
    }

    /** Refuses a target outside [0, classes) that is not ignoreIndex, naming its position (a kernel could not). */
    static void checkTargets(String op, Tensor targets, int classes, long ignoreIndex) {
        long[] t = targets.toLongArray();
        for (int i = 0; i < t.length; i++)
            if (t[i] != ignoreIndex && (t[i] < 0 || t[i] >= classes))
                throw new IndexOutOfBoundsException(op + ": target " + t[i] + " at position " + i + " is outside [0, " + classes + ")");
    }

    /**
     * PyTorch's loss from log-probabilities logp (M, C): ignored rows are chosen away with where (not
     * multiplied by 0), so their gradient is exactly 0 even when the mean's denominator is 0.
     */
    private static Tensor reduce(Flat f, Tensor logp, Options o, double s) {
        int m = logp.size(0), c = logp.size(1);
        Tensor valid = f.ids.ne((double) o.ignoreIndex());                                    // (M) bool
        Tensor zero = Tensor.zeros(logp.dtype(), logp.device());
        Tensor safe = Tensor.where(valid, f.ids, Tensor.zeros(DType.INT64, f.ids.device()));   // ignored rows read class 0
        Tensor w = o.weight() == null ? null : o.weight().to(logp.dtype()).to(logp.device());
        Tensor picked = logp.gather(1, safe.reshape(m, 1)).reshape(m).neg();                  // (M) -log p[y]
        Tensor wy = w == null ? null : Tensor.where(valid, w.indexSelect(0, safe), zero);      // (M) w[y], 0 where ignored
        Tensor loss = Tensor.where(valid, wy == null ? picked : picked.mul(wy), zero);
        if (s != 0) {
            Tensor all = (w == null ? logp : logp.mul(w)).sum(1, false).neg();               // (M) sum_c w[c] (-log p[c])
            loss = loss.mul(1 - s).add(Tensor.where(valid, all, zero).mul(s / c));
        }
        return switch (o.reduction()) {
            case NONE -> loss.reshape(f.targetShape);
            case SUM -> loss.sum();
            case MEAN -> loss.sum().div(wy != null ? wy.sum() : valid.to(logp.dtype()).sum());   // 0 / 0 = NaN when all are ignored
            case BATCHMEAN -> throw new IllegalStateException("unreachable: Options refuses BATCHMEAN");
        };
    }
}
