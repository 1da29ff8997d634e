package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;

/**
 * The elementwise losses behind {@link Losses} (mse, l1, smooth L1, Huber, KL divergence, bce with
 * logits), as torch.nn.functional's: per-element values, then the {@link Reduction}. Each is written so
 * that its gradient at a kink matches PyTorch's (the branch where PyTorch's kernel puts the boundary).
 */
final class PointwiseLosses {
    private PointwiseLosses() {}

    static Tensor mse(Tensor input, Tensor target, Reduction r) {
        Tensor d = diff("mse", input, target, r);
        return r.apply(d.mul(d));
    }

    /** |x - y|; the gradient at x == y is 0 (sign(0)), as PyTorch. */
    static Tensor l1(Tensor input, Tensor target, Reduction r) {
        return r.apply(diff("l1", input, target, r).abs());
    }

    /** 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; beta = 0 is l1 in value (as PyTorch). */
    static Tensor smoothL1(Tensor input, Tensor target, double beta, Reduction r) {
        if (!(beta >= 0)) throw new IllegalArgumentException("smoothL1: beta must be >= 0, got " + beta);
        Tensor d = diff("smoothL1", input, target, r), a = d.abs();
        // PyTorch's kernel: d <= -beta gives gradient -1, so with beta 0 the gradient at d == 0 is -1 (not l1's 0)
        if (beta == 0) return r.apply(Tensor.where(d.le(0), d.neg(), d));
        return r.apply(Tensor.where(a.lt(beta), d.mul(d).mul(0.5 / beta), a.sub(0.5 * beta)));
    }

    /** 0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta). */
    static Tensor huber(Tensor input, Tensor target, double delta, Reduction r) {
        if (!(delta > 0)) throw new IllegalArgumentException("huber: delta must be > 0, got " + delta);
        Tensor d = diff("huber", input, target, r), a = d.abs();
        return r.apply(Tensor.where(a.le(delta), d.mul(d).mul(0.5), a.sub(0.5 * delta).mul(delta)));
    }

    /**
     * target (log target - input) with input log-probabilities; 0 where target == 0 (as xlogy). With
     * logTarget the target is given as log-probabilities: exp(target) (target - input).
     */
    static Tensor klDiv(Tensor input, Tensor target, Reduction r, boolean logTarget) {
        if (r == null) throw new IllegalArgumentException("klDiv: reduction is null");
        sameShape("klDiv", input, target);
        input = Autocast.cast(Autocast.Policy.FLOAT32, input);
        target = Autocast.cast(Autocast.Policy.FLOAT32, target);
        Tensor per;
        if (logTarget) {
            per = target.exp().mul(target.sub(input));
        } else {
            // xlogy(t, t) - t x, as PyTorch: t log t is 0 where t == 0, and log reads 1 there, so the branch where()
            // drops has no -inf to turn its zero gradient into NaN; a negative target gives NaN
            Tensor zero = Tensor.zeros(target.dtype(), target.device()), isZero = target.eq(0);
            Tensor logT = Tensor.where(isZero, Tensor.ones(target.dtype(), target.device()), target).log();
            per = Tensor.where(isZero, zero, target.mul(logT)).sub(target.mul(input));
        }
        return r.apply(per);
    }

    /**
     * (1 - y) x + (1 + (pw - 1) y) softplus(-x), times weight: PyTorch's binary_cross_entropy_with_logits. Its
     * own rule gives the smooth derivative (L sigmoid(x) - pw y), so a logit of exactly 0 gets 0.5 - y, where
     * the kinks of relu and abs in the stable formula would give -y.
     */
    static Tensor bceWithLogits(Tensor logits, Tensor targets, Tensor weight, Tensor posWeight, Reduction r) {
        if (r == null) throw new IllegalArgumentException("bceWithLogits: reduction is null");
        r.checkNotBatchMean("bceWithLogits");
        sameShape("bceWithLogits", logits, targets);
        logits = Autocast.cast(Autocast.Policy.FLOAT32, logits);
        targets = Autocast.cast(Autocast.Policy.FLOAT32, targets);
        if (posWeight != null) broadcastable("bceWithLogits", "posWeight", posWeight, logits);
        if (weight != null) broadcastable("bceWithLogits", "weight", weight, logits);
        Tensor per = posWeight == null
                ? Autodiff.function("bce_with_logits", in -> bce(in[0], in[1], null), Save.inputs(0, 1), PointwiseLosses::bceRule, logits, targets)
                : Autodiff.function("bce_with_logits", in -> bce(in[0], in[1], in[2]), Save.inputs(0, 1, 2), PointwiseLosses::bceRule,
                        logits, targets, posWeight.to(logits.dtype()));
        if (weight != null) per = per.mul(weight.to(per.dtype()));
        return r.apply(per);
    }

    /** softplus(-x) = log(1 + exp(-x)), computed as max(-x, 0) + log(1 + exp(-|x|)) so that exp never overflows. */
    private static Tensor softplusNeg(Tensor x) { return x.neg().relu().add(x.abs().neg().exp().add(1).log()); }

    private static Tensor bce(Tensor x, Tensor y, Tensor pw) {
        Tensor sp = softplusNeg(x);
        Tensor scale = pw == null ? null : pw.sub(1).mul(y).add(1);   // 1 + (pw - 1) y
        return y.rsub(1).mul(x).add(scale == null ? sp : scale.mul(sp));
    }

    /** Written with ops, so a create-graph backward differentiates it again. */
    private static Tensor[] bceRule(Tensor[] in, Tensor out, Tensor g) {
        Tensor x = in[0], y = in[1], pw = in.length > 2 ? in[2] : null;
        Tensor sig = x.sigmoid();
        Tensor gx = null, gy = null, gpw = null;
        if (x.requiresGrad())
            gx = g.mul(pw == null ? sig.sub(y) : pw.sub(1).mul(y).add(1).mul(sig).sub(pw.mul(y))).sumTo(x.shape());
        if (y.requiresGrad() || pw != null && pw.requiresGrad()) {
            Tensor sp = softplusNeg(x);
            if (y.requiresGrad()) gy = g.mul(pw == null ? x.neg() : pw.sub(1).mul(sp).sub(x)).sumTo(y.shape());
            if (pw != null && pw.requiresGrad()) gpw = g.mul(y).mul(sp).sumTo(pw.shape());
        }
        return pw == null ? new Tensor[] {gx, gy} : new Tensor[] {gx, gy, gpw};
    }

    private static Tensor diff(String op, Tensor input, Tensor target, Reduction r) {
        if (r == null) throw new IllegalArgumentException(op + ": reduction is null");
        r.checkNotBatchMean(op);
        sameShape(op, input, target);
        return Autocast.cast(Autocast.Policy.FLOAT32, input).sub(Autocast.cast(Autocast.Policy.FLOAT32, target));
    }

    static void sameShape(String op, Tensor input, Tensor target) {
        if (!Arrays.equals(input.shape(), target.shape()))
            throw new IllegalArgumentException(op + ": input " + Shape.str(input.shape()) + " and target " + Shape.str(target.shape()) + " differ in shape");
    }

    private static void broadcastable(String op, String what, Tensor t, Tensor to) {
        int[] s = t.shape(), o = to.shape();
        boolean ok = s.length <= o.length;
        for (int i = 1; ok && i <= s.length; i++) ok = s[s.length - i] == 1 || s[s.length - i] == o[o.length - i];
        if (!ok) throw new IllegalArgumentException(op + ": " + what + " " + Shape.str(s) + " does not broadcast to the input's shape " + Shape.str(o));
    }
}
