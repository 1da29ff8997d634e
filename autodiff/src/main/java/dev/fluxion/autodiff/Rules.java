package dev.fluxion.autodiff;

import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.Op;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.UnaryOp;

import java.util.ArrayList;
import java.util.List;

/**
 * The backward rule of every primitive {@link Op}, in one table (as tinygrad's gradient table). Composite
 * ops (mean, var, logsumexp, addmm, stack, select, ...) are written with these and need no rule.
 * Notation: x inputs, y output, g the output's gradient; broadcast inputs get {@code sumTo} their shape.
 */
final class Rules {
    private Rules() {}

    static BackwardRule of(Op op) {
        if (op instanceof Op.Unary u) return unary(u.kind());
        if (op instanceof Op.Binary b) return binary(b.kind());
        if (op instanceof Op.Where) return (x, y, g) -> {
            Tensor zero = zero(g);
            return new Tensor[] {null, Tensor.where(x[0], g, zero).sumTo(x[1].shape()), Tensor.where(x[0], zero, g).sumTo(x[2].shape())};
        };
        if (op instanceof Op.Clamp c) return (x, y, g) -> {               // gradient passes where lo <= x <= hi
            Tensor zero = zero(g);
            Tensor pass = Tensor.where(x[0].lt(c.lo()), zero, Tensor.where(x[0].gt(c.hi()), zero, g));
            return new Tensor[] {pass};
        };
        if (op instanceof Op.Cast) return (x, y, g) -> new Tensor[] {g.to(x[0].dtype())};
        if (op instanceof Op.Reduce r) return reduce(r);
        if (op instanceof Op.Softmax s) return (x, y, g) ->                // y (g - sum(g y))
                new Tensor[] {y.mul(g.sub(g.mul(y).sum(s.dim(), true)))};
        if (op instanceof Op.LogSoftmax s) return (x, y, g) ->             // g - softmax * sum(g)
                new Tensor[] {g.sub(y.exp().mul(g.sum(s.dim(), true)))};
        if (op instanceof Op.MatMul) return (x, y, g) ->                   // [B,M,K] @ [B,K,N]
                new Tensor[] {g.matmul(x[1].transpose(1, 2)), x[0].transpose(1, 2).matmul(g)};
        if (op instanceof Op.Reshape r) return (x, y, g) -> new Tensor[] {g.reshape(r.from())};
        if (op instanceof Op.Permute p) return (x, y, g) -> new Tensor[] {g.permute(inverse(p.order()))};
        if (op instanceof Op.Expand e) return (x, y, g) -> new Tensor[] {g.sumTo(e.from())};
        if (op instanceof Op.Slice s) return (x, y, g) -> {
            Tensor gx = Tensor.zeros(x[0].dtype(), x[0].device(), x[0].shape());
            gx.slice(s.dim(), s.start(), s.end(), s.step()).copy_(g);
            return new Tensor[] {gx};
        };
        if (op instanceof Op.Contiguous) return (x, y, g) -> new Tensor[] {g};
        if (op instanceof Op.IndexSelect s) return (x, y, g) ->
                new Tensor[] {Tensor.zeros(x[0].dtype(), x[0].device(), x[0].shape()).indexAdd(s.dim(), x[1], g), null};
        if (op instanceof Op.IndexAdd a) return (x, y, g) -> new Tensor[] {g, null, g.indexSelect(a.dim(), x[1])};
        if (op instanceof Op.Gather ga) return (x, y, g) ->
                new Tensor[] {Tensor.zeros(x[0].dtype(), x[0].device(), x[0].shape()).scatterAdd(ga.dim(), x[1], g), null};
        if (op instanceof Op.ScatterAdd s) return (x, y, g) -> new Tensor[] {g, null, g.gather(s.dim(), x[1])};
        if (op instanceof Op.LayerNorm ln) return (x, y, g) ->                // fused by the backend, or composed of ops
                dev.fluxion.tensor.Backends.of(x[0].device()).layerNormBackward(x[0], x[1], g, ln.eps());
        if (op instanceof Op.Cat c) return (x, y, g) -> {
            int[] sizes = new int[x.length];
            for (int i = 0; i < x.length; i++) sizes[i] = x[i].shape()[c.dim()];
            List<Tensor> parts = new ArrayList<>(g.split(sizes, c.dim()));
            return parts.toArray(new Tensor[0]);
        };
        throw new IllegalStateException("no backward rule for op " + op.name());
    }

    private static BackwardRule unary(UnaryOp kind) {
        return switch (kind) {
            case NEG -> (x, y, g) -> new Tensor[] {g.neg()};
            case EXP -> (x, y, g) -> new Tensor[] {g.mul(y)};
            case LOG -> (x, y, g) -> new Tensor[] {g.div(x[0])};
            case SQRT -> (x, y, g) -> new Tensor[] {g.div(y.mul(2))};
            case RSQRT -> (x, y, g) -> new Tensor[] {g.mul(y.pow(3)).mul(-0.5)};
            case ABS -> (x, y, g) -> new Tensor[] {g.mul(x[0].sign())};
            case SIGN -> (x, y, g) -> new Tensor[] {Tensor.zerosLike(g)};
            case SIN -> (x, y, g) -> new Tensor[] {g.mul(x[0].cos())};
            case COS -> (x, y, g) -> new Tensor[] {g.mul(x[0].sin()).neg()};
            case TANH -> (x, y, g) -> new Tensor[] {g.mul(y.mul(y).rsub(1))};
            case SIGMOID -> (x, y, g) -> new Tensor[] {g.mul(y.mul(y.rsub(1)))};
            case RELU -> (x, y, g) -> new Tensor[] {Tensor.where(x[0].gt(0), g, zero(g))};
            case GELU -> (x, y, g) -> new Tensor[] {g.mul(x[0].apply(UnaryOp.GELU_GRAD))};
            case GELU_TANH -> (x, y, g) -> new Tensor[] {g.mul(x[0].apply(UnaryOp.GELU_TANH_GRAD))};
            case SILU -> (x, y, g) -> new Tensor[] {g.mul(x[0].apply(UnaryOp.SILU_GRAD))};
            case GELU_GRAD, GELU_TANH_GRAD, SILU_GRAD -> (x, y, g) -> {
                throw new UnsupportedOperationException("backward: " + kind.opName() + " is a first derivative; second derivatives are not supported");
            };
        };
    }

    private static BackwardRule binary(BinaryOp kind) {
        return switch (kind) {
            case ADD -> (x, y, g) -> new Tensor[] {g.sumTo(x[0].shape()), g.sumTo(x[1].shape())};
            case SUB -> (x, y, g) -> new Tensor[] {g.sumTo(x[0].shape()), g.neg().sumTo(x[1].shape())};
            case MUL -> (x, y, g) -> new Tensor[] {g.mul(x[1]).sumTo(x[0].shape()), g.mul(x[0]).sumTo(x[1].shape())};
            case DIV -> (x, y, g) -> new Tensor[] {g.div(x[1]).sumTo(x[0].shape()), g.mul(y).div(x[1]).neg().sumTo(x[1].shape())};
            case POW -> (x, y, g) -> {
                Tensor a = x[0], b = x[1];
                Tensor ga = g.mul(b).mul(a.pow(b.sub(1)));
                // d/db a^b = a^b log a; defined as 0 where a == 0 (as PyTorch), avoiding 0 * -inf
                Tensor logA = Tensor.where(a.eq(0), Tensor.zerosLike(a), a.log());
                Tensor gb = b.requiresGrad() ? g.mul(y).mul(logA).sumTo(b.shape()) : null;
                return new Tensor[] {ga.sumTo(a.shape()), gb};
            };
            case MAXIMUM, MINIMUM -> (x, y, g) -> {                 // ties split the gradient in half, as PyTorch
                Tensor a = x[0], b = x[1], zero = Tensor.zerosLike(g);
                Tensor half = Tensor.where(a.eq(b), g.mul(0.5), g);
                boolean max = kind == BinaryOp.MAXIMUM;
                Tensor ga = Tensor.where(max ? a.lt(b) : a.gt(b), zero, half);
                Tensor gb = Tensor.where(max ? a.gt(b) : a.lt(b), zero, half);
                return new Tensor[] {ga.sumTo(a.shape()), gb.sumTo(b.shape())};
            };
            default -> throw new IllegalStateException("comparison " + kind.opName() + " is not differentiable");
        };
    }

    private static BackwardRule reduce(Op.Reduce r) {
        return switch (r.kind()) {
            case SUM -> (x, y, g) -> new Tensor[] {keepDims(g, x[0], r).expand(x[0].shape())};
            case MAX, MIN -> (x, y, g) -> {                         // split evenly between tied extremes, as torch.amax
                Tensor mask = x[0].eq(keepDims(y, x[0], r));
                Tensor count = mask.to(g.dtype()).sum(r.dims(), true);
                Tensor share = keepDims(g, x[0], r).div(count);
                return new Tensor[] {Tensor.where(mask, share.expand(x[0].shape()), Tensor.zerosLike(x[0]))};
            };
            default -> throw new IllegalStateException(r.kind().opName() + " is not differentiable");
        };
    }

    /** g reshaped so that the reduced dims are present with size 1. */
    private static Tensor keepDims(Tensor g, Tensor x, Op.Reduce r) {
        if (r.keepdim()) return g;
        int[] shape = x.shape();
        for (int d : r.dims()) shape[d] = 1;
        return g.reshape(shape);
    }

    /** A 0-dim zero of g's dtype and device: where() broadcasts it, so no full tensor of zeros is made. */
    private static Tensor zero(Tensor g) { return Tensor.zeros(g.dtype(), g.device()); }

    private static int[] inverse(int[] order) {
        int[] inv = new int[order.length];
        for (int i = 0; i < order.length; i++) inv[order[i]] = i;
        return inv;
    }
}
