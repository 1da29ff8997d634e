package dev.fluxion.autodiff;

import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.Op;
import dev.fluxion.tensor.ReduceOp;
import dev.fluxion.tensor.ActivationBackwardOp;
import dev.fluxion.tensor.ReluBackwardOp;
import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.UnaryOp;

import java.util.ArrayList;
import java.util.List;

import static dev.fluxion.autodiff.Rule.crossed;
import static dev.fluxion.tensor.Save.NOTHING;
import static dev.fluxion.tensor.Save.OUTPUT;
import static dev.fluxion.tensor.Save.inputs;

/**
 * The backward rule of every primitive {@link Op}, in one table (as tinygrad's gradient table), each with
 * what it keeps from the forward ({@link Save}). Composite ops (mean, var, logsumexp, addmm, stack, select,
 * ...) are written with these and need no rule; fused ops carry their own ({@link dev.fluxion.tensor.FusedOp}).
 * Notation: s what the forward saved (s.input(i), s.output(), s.shape(i)), g the output's gradient;
 * broadcast inputs get {@code sumTo} their shape.
 */
final class Rules {
    private Rules() {}

    /** False for ops that have no gradient (comparisons, arg-reductions) or only a first one (the *_GRAD kinds). */
    static boolean isDifferentiable(Op op) {
        if (op instanceof Op.Binary b) return !b.kind().isComparison();
        if (op instanceof Op.Reduce r) return r.kind() != ReduceOp.ARGMAX && r.kind() != ReduceOp.ARGMIN;
        if (op instanceof Op.Unary u) return switch (u.kind()) { case GELU_GRAD, GELU_TANH_GRAD, SILU_GRAD -> false; default -> true; };
        return true;
    }

    static Rule of(Op op) {
        if (op instanceof Op.Unary u) return unary(u.kind());
        if (op instanceof Op.Binary b) return binary(b.kind());
        if (op instanceof Op.Where) return Rule.of(inputs(0), (s, g) -> {          // keeps only the condition
            Tensor zero = zero(g), cond = s.input(0);
            return new Tensor[] {null, Tensor.where(cond, g, zero).sumTo(s.shape(1)), Tensor.where(cond, zero, g).sumTo(s.shape(2))};
        });
        if (op instanceof Op.Clamp c) return Rule.of(inputs(0), (s, g) -> {         // passes where lo <= x <= hi (bounds included, NaN not), as PyTorch
            Tensor zero = zero(g), x = s.input(0);
            return new Tensor[] {Tensor.where(x.ge(c.lo()), Tensor.where(x.le(c.hi()), g, zero), zero)};
        });
        if (op instanceof Op.Cast) return Rule.of(NOTHING, (s, g) -> new Tensor[] {g.to(s.dtype(0))});
        if (op instanceof Op.Reduce r) return reduce(r);
        if (op instanceof Op.Softmax sm) return Rule.of(OUTPUT, (s, g) -> {         // y (g - sum(g y))
            Tensor y = s.output();
            return new Tensor[] {y.mul(g.sub(g.mul(y).sum(sm.dim(), true)))};
        });
        if (op instanceof Op.LogSoftmax sm) return Rule.of(OUTPUT, (s, g) ->        // g - softmax * sum(g)
                new Tensor[] {g.sub(s.output().exp().mul(g.sum(sm.dim(), true)))});
        if (op instanceof Op.MatMul) return crossed((s, g) -> new Tensor[] {  // [B,M,K] @ [B,K,N]
                s.needsGrad(0) ? g.matmul(s.input(1).transpose(1, 2)) : null,
                s.needsGrad(1) ? s.input(0).transpose(1, 2).matmul(g) : null});
        if (op instanceof Op.Reshape r) return Rule.of(NOTHING, (s, g) -> new Tensor[] {g.reshape(r.from())});
        if (op instanceof Op.Permute p) return Rule.of(NOTHING, (s, g) -> new Tensor[] {g.permute(inverse(p.order()))});
        if (op instanceof Op.Expand e) return Rule.of(NOTHING, (s, g) -> new Tensor[] {g.sumTo(e.from())});
        if (op instanceof Op.Slice sl) return new SliceRule(sl.dim(), sl.start(), sl.end(), sl.step());
        if (op instanceof Op.Contiguous) return Rule.of(NOTHING, (s, g) -> new Tensor[] {g});
        if (op instanceof Op.IndexSelect is) return Rule.of(inputs(1), (s, g) -> new Tensor[] {zerosOf(s, 0).indexAdd(is.dim(), s.input(1), g), null});
        if (op instanceof Op.IndexAdd a) return Rule.of(inputs(1), (s, g) -> new Tensor[] {g, null, g.indexSelect(a.dim(), s.input(1))});
        if (op instanceof Op.Gather ga) return Rule.of(inputs(1), (s, g) -> new Tensor[] {zerosOf(s, 0).scatterAdd(ga.dim(), s.input(1), g), null});
        if (op instanceof Op.ScatterAdd sa) return Rule.of(inputs(1), (s, g) -> new Tensor[] {g, null, g.gather(sa.dim(), s.input(1))});
        if (op instanceof Op.Cat c) return Rule.of(NOTHING, (s, g) -> {
            int[] sizes = new int[s.inputCount()];
            for (int i = 0; i < sizes.length; i++) sizes[i] = s.shape(i)[c.dim()];
            List<Tensor> parts = new ArrayList<>(g.split(sizes, c.dim()));
            return parts.toArray(new Tensor[0]);
        });
        if (op instanceof Op.MathFunction m) return MathRules.of(m);
        if (op instanceof Op.CumSum c) return MathRules.cumsum(c);
        if (op instanceof Op.CumProd c) return MathRules.cumprod(c);
        throw new IllegalStateException("no backward rule for op " + op.name());
    }

    private static Rule unary(UnaryOp kind) {
        return switch (kind) {
            case NEG -> Rule.of(NOTHING, (s, g) -> new Tensor[] {g.neg()});
            case EXP -> Rule.of(OUTPUT, (s, g) -> new Tensor[] {g.mul(s.output())});
            case LOG -> Rule.of(inputs(0), (s, g) -> new Tensor[] {g.div(s.input(0))});
            case SQRT -> Rule.of(OUTPUT, (s, g) -> new Tensor[] {g.div(s.output().mul(2))});
            case RSQRT -> Rule.of(OUTPUT, (s, g) -> new Tensor[] {g.mul(s.output().pow(3)).mul(-0.5)});
            case ABS -> Rule.of(inputs(0), (s, g) -> {                             // g sign(x), with sign 0 at 0 and at NaN, as PyTorch
                Tensor x = s.input(0);
                return new Tensor[] {g.mul(x.gt(0).to(g.dtype()).sub(x.lt(0).to(g.dtype())))};
            });
            case SIGN -> Rule.of(NOTHING, (s, g) -> new Tensor[] {Tensor.zerosLike(g)});
            case SIN -> Rule.of(inputs(0), (s, g) -> new Tensor[] {g.mul(s.input(0).cos())});
            case COS -> Rule.of(inputs(0), (s, g) -> new Tensor[] {g.mul(s.input(0).sin()).neg()});
            case TANH -> Rule.of(OUTPUT, (s, g) -> new Tensor[] {g.mul(s.output().mul(s.output()).rsub(1))});
            case SIGMOID -> Rule.of(OUTPUT, (s, g) -> new Tensor[] {g.mul(s.output().mul(s.output().rsub(1)))});
            case RELU -> Rule.of(OUTPUT, (s, g) -> new Tensor[] {new ReluBackwardOp().apply(g, s.output())});   // 0 where x <= 0; NaN passes g, as PyTorch's threshold_backward
            case GELU, GELU_TANH, SILU -> Rule.of(inputs(0), (s, g) -> new Tensor[] {new ActivationBackwardOp(kind).apply(g, s.input(0))});
            case GELU_GRAD, GELU_TANH_GRAD, SILU_GRAD -> Rule.of(NOTHING, (s, g) -> {
                throw new UnsupportedOperationException("backward: " + kind.opName() + " is a first derivative; second derivatives are not supported");
            });
        };
    }

    private static Rule binary(BinaryOp kind) {
        return switch (kind) {
            case ADD -> Rule.of(NOTHING, (s, g) -> new Tensor[] {g.sumTo(s.shape(0)), g.sumTo(s.shape(1))});
            case SUB -> Rule.of(NOTHING, (s, g) -> new Tensor[] {g.sumTo(s.shape(0)), g.neg().sumTo(s.shape(1))});
            case MUL -> crossed((s, g) -> new Tensor[] {
                    s.needsGrad(0) ? g.mul(s.input(1)).sumTo(s.shape(0)) : null,
                    s.needsGrad(1) ? g.mul(s.input(0)).sumTo(s.shape(1)) : null});
            case DIV -> Rule.of(needs -> needs[1] ? inputs(1).withOutput() : inputs(1), (s, g) -> new Tensor[] {   // d(a/b)/db = -y/b
                    s.needsGrad(0) ? g.div(s.input(1)).sumTo(s.shape(0)) : null,
                    s.needsGrad(1) ? g.mul(s.output()).div(s.input(1)).neg().sumTo(s.shape(1)) : null});
            case POW -> Rule.of(needs -> needs[1] ? inputs(0, 1).withOutput() : inputs(0, 1), (s, g) -> {
                Tensor a = s.input(0), b = s.input(1);
                // b a^(b-1), 0 where b == 0 (as PyTorch: x^0 is constant, so 0^0 does not give 0 * inf)
                Tensor ga = s.needsGrad(0) ? Tensor.where(b.eq(0), zero(g), g.mul(b).mul(a.pow(b.sub(1)))).sumTo(s.shape(0)) : null;
                // d/db a^b = a^b log a; 0 where a == 0 and b >= 0 (as PyTorch), avoiding 0 * -inf
                Tensor gb = null;
                if (s.needsGrad(1)) {
                    Tensor logTerm = g.mul(s.output()).mul(a.log());
                    gb = Tensor.where(a.eq(0), Tensor.where(b.ge(0), zero(g), logTerm), logTerm).sumTo(s.shape(1));
                }
                return new Tensor[] {ga, gb};
            });
            case MAXIMUM, MINIMUM -> Rule.of(inputs(0, 1), (s, g) -> {            // ties split the gradient in half, as PyTorch
                Tensor a = s.input(0), b = s.input(1), zero = zero(g);
                Tensor half = Tensor.where(a.eq(b), g.mul(0.5), g);
                boolean max = kind == BinaryOp.MAXIMUM;
                Tensor ga = Tensor.where(max ? a.lt(b) : a.gt(b), zero, half);
                Tensor gb = Tensor.where(max ? a.gt(b) : a.lt(b), zero, half);
                return new Tensor[] {ga.sumTo(s.shape(0)), gb.sumTo(s.shape(1))};
            });
            default -> throw new IllegalStateException("comparison " + kind.opName() + " is not differentiable");
        };
    }

    private static Rule reduce(Op.Reduce r) {
        return switch (r.kind()) {
            case SUM -> Rule.of(NOTHING, (s, g) -> new Tensor[] {keepDims(g, s.shape(0), r).expand(s.shape(0))});
            case MAX, MIN -> Rule.of(inputs(0).withOutput(), (s, g) -> {      // split evenly between tied extremes, as torch.amax
                Tensor x = s.input(0), y = keepDims(s.output(), x.shape(), r);
                Tensor mask = Tensor.where(y.ne(y), x.ne(x), x.eq(y));            // a NaN extreme: its NaNs share g (as torch.max())
                Tensor count = mask.to(g.dtype()).sum(r.dims(), true);
                Tensor share = keepDims(g, x.shape(), r).div(count);
                return new Tensor[] {Tensor.where(mask, share.expand(x.shape()), zero(g))};
            });
            default -> throw new IllegalStateException(r.kind().opName() + " is not differentiable");
        };
    }

    /** g reshaped so that the reduced dims are present with size 1. */
    private static Tensor keepDims(Tensor g, int[] inputShape, Op.Reduce r) {
        if (r.keepdim()) return g;
        int[] shape = inputShape.clone();
        for (int d : r.dims()) shape[d] = 1;
        return g.reshape(shape);
    }

    /** Zeros with input i's shape, dtype and device. */
    private static Tensor zerosOf(Saved s, int i) { return Tensor.zeros(s.dtype(i), s.device(i), s.shape(i)); }

    /** A 0-dim zero of g's dtype and device: where() broadcasts it, so no full tensor of zeros is made. */
    private static Tensor zero(Tensor g) { return Tensor.zeros(g.dtype(), g.device()); }

    private static int[] inverse(int[] order) {
        int[] inv = new int[order.length];
        for (int i = 0; i < order.length; i++) inv[order[i]] = i;
        return inv;
    }
}
