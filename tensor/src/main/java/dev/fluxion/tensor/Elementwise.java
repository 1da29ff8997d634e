package dev.fluxion.tensor;

import java.util.EnumSet;
import java.util.Set;

/** Elementwise ops: argument checks, broadcasting, the backend call and the autograd record. */
final class Elementwise {
    private Elementwise() {}

    /** Functions that are only defined on floating-point tensors (integers must be cast first). */
    private static final Set<UnaryOp> FLOAT_ONLY = EnumSet.complementOf(EnumSet.of(UnaryOp.NEG, UnaryOp.ABS, UnaryOp.SIGN, UnaryOp.RELU));

    /** Functions autocast runs in float32 (on PyTorch's float32 list: their range or precision suffers in 16 bits). */
    private static final Set<UnaryOp> AUTOCAST_FLOAT32 = EnumSet.of(UnaryOp.EXP, UnaryOp.LOG, UnaryOp.RSQRT);

    static Tensor unary(UnaryOp op, Tensor x) {
        if (x.dtype() == DType.BOOL || FLOAT_ONLY.contains(op) && !x.dtype().isFloatingPoint())
            throw new IllegalArgumentException(op.opName() + ": not defined for " + x.dtype() + " tensors; cast to a floating dtype first with .to(DType.FLOAT32)");
        if (AUTOCAST_FLOAT32.contains(op)) x = Autocast.cast(Autocast.Policy.FLOAT32, x);
        return Autograd.record(new Op.Unary(op), x.backend().unary(op, x), x);
    }

    static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        Tensor[] p = Autocast.promote(a, b);
        a = p[0];
        b = p[1];
        checkPair(op.opName(), a, b);
        if (a.dtype() == DType.BOOL)
            throw new IllegalArgumentException(op.opName() + ": not defined for bool tensors; cast with .to(...) first");
        if ((op == BinaryOp.DIV || op == BinaryOp.POW) && !a.dtype().isFloatingPoint())
            throw new IllegalArgumentException(op.opName() + ": not defined for " + a.dtype() + " tensors (it would truncate); cast to a floating dtype first");
        int[] shape = Shape.broadcast(op.opName(), a.shape(), b.shape());
        Tensor ea = Views.expandRaw(a, shape), eb = Views.expandRaw(b, shape);
        // the rule sums each input's gradient back to its own shape (Tensor.sumTo), so the originals are recorded
        return Autograd.record(new Op.Binary(op), a.backend().binary(op, ea, eb), a, b);
    }

    static Tensor compare(BinaryOp op, Tensor a, Tensor b) {
        Tensor[] p = Autocast.promote(a, b);
        a = p[0];
        b = p[1];
        checkPair(op.opName(), a, b);
        int[] shape = Shape.broadcast(op.opName(), a.shape(), b.shape());
        return a.backend().binary(op, Views.expandRaw(a, shape), Views.expandRaw(b, shape)); // not differentiable
    }

    static Tensor where(Tensor cond, Tensor a, Tensor b) {
        if (cond.dtype() != DType.BOOL)
            throw new IllegalArgumentException("where: condition must be bool, got " + cond.dtype());
        Tensor[] p = Autocast.promote(a, b);
        a = p[0];
        b = p[1];
        checkPair("where", a, b);
        checkDevice("where", cond, a);
        int[] shape = Shape.broadcast("where", Shape.broadcast("where", cond.shape(), a.shape()), b.shape());
        Tensor ec = Views.expandRaw(cond, shape), ea = Views.expandRaw(a, shape), eb = Views.expandRaw(b, shape);
        return Autograd.record(new Op.Where(), a.backend().where(ec, ea, eb), cond, a, b);
    }

    static Tensor clamp(Tensor x, double lo, double hi) {
        if (lo > hi) throw new IllegalArgumentException("clamp: min " + lo + " is greater than max " + hi);
        if (!x.dtype().isFloatingPoint() && (!x.dtype().canHold(Math.ceil(lo)) && !Double.isInfinite(lo)))
            throw new IllegalArgumentException("clamp: bound " + lo + " does not fit dtype " + x.dtype());
        Tensor out = x;
        Backend be = x.backend();
        if (lo != Double.NEGATIVE_INFINITY) out = be.binary(BinaryOp.MAXIMUM, out, Views.expandRaw(scalarLike(x, lo, "clamp"), x.shape()));
        if (hi != Double.POSITIVE_INFINITY) out = be.binary(BinaryOp.MINIMUM, out, Views.expandRaw(scalarLike(x, hi, "clamp"), x.shape()));
        if (out == x) out = Views.copyRaw(x); // both bounds infinite
        return Autograd.record(new Op.Clamp(lo, hi), out, x);
    }

    static Tensor cast(Tensor x, DType dtype) {
        if (x.dtype() == dtype) return x.alive();
        Tensor out = Tensor.empty(x.device(), dtype, x.shape());
        x.backend().copy(x, out);
        if (!dtype.isFloatingPoint()) return out; // gradients stop at integer tensors
        return Autograd.record(new Op.Cast(dtype), out, x);
    }

    /** A 0-dim tensor of x's dtype and device holding v; refuses values the dtype cannot hold exactly. */
    static Tensor scalarLike(Tensor x, double v, String op) {
        if (!x.dtype().canHold(v))
            throw new IllegalArgumentException(op + ": scalar " + v + " cannot be represented in dtype " + x.dtype() + " without truncation");
        return Creation.full(v, x.dtype(), x.device(), new int[0]);
    }

    static void checkPair(String op, Tensor a, Tensor b) {
        checkDevice(op, a, b);
        if (a.dtype() != b.dtype())
            throw new IllegalArgumentException(op + ": dtypes " + a.dtype() + " and " + b.dtype() + " differ; convert one with .to(DType." + a.dtype().name() + ")");
    }

    static void checkDevice(String op, Tensor a, Tensor b) {
        if (!a.device().equals(b.device()))
            throw new IllegalArgumentException(op + ": tensors are on different devices, " + a.device() + " and " + b.device() + "; move one with .to(device)");
    }
}
