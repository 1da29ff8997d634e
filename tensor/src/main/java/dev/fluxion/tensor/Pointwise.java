package dev.fluxion.tensor;

/**
 * The elementwise ops of PyTorch that Fluxion adds beyond the backend kernels: the {@link MathFn}
 * functions (one host loop in double precision, recorded as {@link Op.Math}) and activations written with
 * other ops (softplus, leaky_relu, elu, hardtanh), which need no rule of their own.
 */
final class Pointwise {
    private Pointwise() {}

    static Tensor unary(MathFn fn, Tensor x) {
        if (fn.arity() != 1) throw new IllegalArgumentException(fn.opName() + ": takes two tensors, got one");
        if (x.dtype() == DType.BOOL)
            throw new IllegalArgumentException(fn.opName() + ": not defined for bool tensors; cast with .to(...) first");
        if (!x.dtype().isFloatingPoint()) {
            if (fn.isStep()) return x.copy();          // integers are already integral (as torch.floor on an int tensor)
            throw new IllegalArgumentException(fn.opName() + ": not defined for " + x.dtype() + " tensors; cast to a floating dtype first with .to(DType.FLOAT32)");
        }
        double[] v = x.detach().toDoubleArray();
        for (int i = 0; i < v.length; i++) v[i] = fn.apply(v[i]);
        return Autograd.record(new Op.MathFunction(fn), upload(v, x.dtype(), x.shape(), x.device()), x);
    }

    static Tensor binary(MathFn fn, Tensor a, Tensor b) {
        if (fn.arity() != 2) throw new IllegalArgumentException(fn.opName() + ": takes one tensor, got two");
        Tensor[] p = Autocast.promote(a, b);
        a = p[0];
        b = p[1];
        Elementwise.checkPair(fn.opName(), a, b);
        if (a.dtype() == DType.BOOL) throw new IllegalArgumentException(fn.opName() + ": not defined for bool tensors; cast with .to(...) first");
        int[] shape = Shape.broadcast(fn.opName(), a.shape(), b.shape());
        Tensor ea = Views.expandRaw(a, shape), eb = Views.expandRaw(b, shape);
        if (!a.dtype().isFloatingPoint()) {
            if (fn != MathFn.FMOD)
                throw new IllegalArgumentException(fn.opName() + ": not defined for " + a.dtype() + " tensors; cast to a floating dtype first with .to(DType.FLOAT32)");
            long[] x = ea.detach().toLongArray(), y = eb.detach().toLongArray();
            for (int i = 0; i < x.length; i++) {
                if (y[i] == 0) throw new ArithmeticException("fmod: integer division by zero at flat position " + i + " (as torch.fmod on integers)");
                x[i] = x[i] % y[i];
            }
            return Creation.fromArray(x, shape).to(a.dtype()).to(a.device());
        }
        double[] x = ea.detach().toDoubleArray(), y = eb.detach().toDoubleArray();
        for (int i = 0; i < x.length; i++) x[i] = fn.apply(x[i], y[i]);
        return Autograd.record(new Op.MathFunction(fn), upload(x, a.dtype(), shape, a.device()), a, b);
    }

    /** Values computed on the host, stored as dtype on device. */
    static Tensor upload(double[] v, DType dtype, int[] shape, Device device) {
        Tensor t = Creation.fromDoubles(v, dtype, shape);
        return device.equals(Device.CPU) ? t : t.to(device);
    }

    static void requireFloat(String op, Tensor x) {
        if (!x.dtype().isFloatingPoint())
            throw new IllegalArgumentException(op + ": not defined for " + x.dtype() + " tensors; cast to a floating dtype first with .to(DType.FLOAT32)");
    }

    /** log(1 + exp(beta x)) / beta, and x itself where beta x &gt; threshold (as torch.nn.functional.softplus). */
    static Tensor softplus(Tensor x, double beta, double threshold) {
        requireFloat("softplus", x);
        if (!(beta != 0) || Double.isNaN(threshold))
            throw new IllegalArgumentException("softplus: beta must be non-zero and threshold a number, got beta " + beta + ", threshold " + threshold);
        Tensor bx = x.mul(beta);
        // the soft branch sees bx clamped, so that exp cannot overflow where it is not taken (inf * 0 = NaN in backward)
        Tensor soft = unary(MathFn.LOG1P, bx.clampMax(threshold).exp()).div(beta);
        return Tensor.where(bx.gt(threshold), x, soft);
    }

    /** x where x &gt; 0, else slope * x (gradient slope at 0, as PyTorch). */
    static Tensor leakyRelu(Tensor x, double slope) {
        requireFloat("leakyRelu", x);
        return Tensor.where(x.gt(0), x, x.mul(slope));
    }

    /** x where x &gt; 0, else alpha (exp(x) - 1) (gradient alpha at 0, as PyTorch). */
    static Tensor elu(Tensor x, double alpha) {
        requireFloat("elu", x);
        return Tensor.where(x.gt(0), x, unary(MathFn.EXPM1, x.clampMax(0)).mul(alpha));
    }

    /** x limited to [min, max]; unlike clamp, the gradient is zero at the bounds themselves (as torch's hardtanh). */
    static Tensor hardtanh(Tensor x, double min, double max) {
        requireFloat("hardtanh", x);
        if (!(min <= max)) throw new IllegalArgumentException("hardtanh: min " + min + " must be <= max " + max);
        Tensor lo = Elementwise.scalarLike(x, min, "hardtanh"), hi = Elementwise.scalarLike(x, max, "hardtanh");
        return Tensor.where(x.le(min), lo, Tensor.where(x.ge(max), hi, x));
    }

    static Tensor reciprocal(Tensor x) {
        requireFloat("reciprocal", x);
        return Elementwise.binary(BinaryOp.DIV, Elementwise.scalarLike(x, 1, "reciprocal"), x);
    }

    /** v / x. */
    static Tensor rdiv(Tensor x, double v) {
        requireFloat("rdiv", x);
        return Elementwise.binary(BinaryOp.DIV, Elementwise.scalarLike(x, v, "rdiv"), x);
    }

    /** base ** x. */
    static Tensor rpow(double base, Tensor x) {
        requireFloat("pow", x);
        return Elementwise.binary(BinaryOp.POW, Elementwise.scalarLike(x, base, "pow"), x);
    }
}
