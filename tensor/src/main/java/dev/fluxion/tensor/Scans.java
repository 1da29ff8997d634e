package dev.fluxion.tensor;

/**
 * Running sums and products along a dim (torch.cumsum, torch.cumprod) and products (torch.prod): one host
 * loop per row, floats accumulated in double (as PyTorch's CPU kernels), integers and bool in int64 with
 * an int64 result (as PyTorch). Public only for {@link #cumprodBackward}, which module fluxion-autodiff's
 * rule calls; use the {@link Tensor} methods.
 */
public final class Scans {
    private Scans() {}

    static Tensor cumsum(Tensor x, int dim) { return scan(x, dim, false); }

    static Tensor cumprod(Tensor x, int dim) { return scan(x, dim, true); }

    private static Tensor scan(Tensor x, int dim, boolean product) {
        String op = product ? "cumprod" : "cumsum";
        if (x.dim() == 0) return scan(x.reshape(1), 0, product).reshape();
        int d = Shape.dim(op, dim, x.dim());
        Tensor moved = x.detach().movedim(d, -1);                   // rows along the last dim
        int[] shape = moved.shape();
        int n = shape[shape.length - 1];
        Tensor out;
        if (x.dtype().isFloatingPoint()) {
            double[] v = moved.toDoubleArray();
            for (int row = 0; row + n <= v.length && n > 0; row += n) {
                double acc = product ? 1 : 0;
                for (int i = row; i < row + n; i++) v[i] = acc = product ? acc * v[i] : acc + v[i];
            }
            out = Pointwise.upload(v, x.dtype(), shape, x.device());
        } else {
            long[] v = moved.toLongArray();
            for (int row = 0; row + n <= v.length && n > 0; row += n) {
                long acc = product ? 1 : 0;
                for (int i = row; i < row + n; i++) v[i] = acc = product ? acc * v[i] : acc + v[i];
            }
            out = Creation.fromArray(v, shape).to(x.device());
            return out.movedim(-1, d).contiguous();                // integer results carry no gradient
        }
        out = out.movedim(-1, d).contiguous();
        return Autograd.record(product ? new Op.CumProd(d) : new Op.CumSum(d), out, x);
    }

    /** The product along dim (as torch.prod); 1 for an empty dim. Gradient through cumprod, exact with zeros. */
    static Tensor prod(Tensor x, int dim, boolean keepdim) {
        if (x.dim() == 0) return prod(x.reshape(1), 0, keepdim).reshape();
        int d = Shape.dim("prod", dim, x.dim());
        Tensor out;
        if (x.shape()[d] == 0) {
            int[] sh = x.shape();
            sh[d] = 1;
            out = Tensor.ones(x.dtype().isFloatingPoint() ? x.dtype() : DType.INT64, x.device(), sh);
        } else {
            out = scan(x, d, true).narrow(d, x.shape()[d] - 1, 1);
        }
        return keepdim ? out : out.squeeze(d);
    }

    /** The product of all elements, as a 0-dim tensor. */
    static Tensor prod(Tensor x) { return prod(x.reshape(-1), 0, false); }

    /**
     * The gradient of y = cumprod(x) along dim for output gradient g, exact where x has zeros: with
     * P(i) = x(0)...x(i-1) and R(i) = g(i) + x(i+1) R(i+1), dx(i) = P(i) R(i). Written as a host loop; not
     * itself differentiable.
     */
    public static Tensor cumprodBackward(Tensor x, Tensor g, int dim) {
        if (!java.util.Arrays.equals(x.shape(), g.shape()))
            throw new IllegalArgumentException("cumprodBackward: gradient shape " + Shape.str(g.shape()) + " must equal input shape " + Shape.str(x.shape()));
        if (x.dim() == 0) return g.copy();
        int d = Shape.dim("cumprodBackward", dim, x.dim());
        Tensor xm = x.detach().movedim(d, -1), gm = g.detach().movedim(d, -1);
        int[] shape = xm.shape();
        int n = shape[shape.length - 1];
        double[] xv = xm.toDoubleArray(), gv = gm.toDoubleArray(), out = new double[xv.length];
        for (int row = 0; row + n <= xv.length && n > 0; row += n) {
            double r = 0;
            for (int i = row + n - 1; i >= row; i--) {      // out(i) = R(i) for now
                r = i == row + n - 1 ? gv[i] : gv[i] + xv[i + 1] * r;
                out[i] = r;
            }
            double p = 1;
            for (int i = row; i < row + n; i++) { out[i] *= p; p *= xv[i]; }
        }
        return Pointwise.upload(out, g.dtype(), shape, g.device()).movedim(-1, d).contiguous();
    }
}
