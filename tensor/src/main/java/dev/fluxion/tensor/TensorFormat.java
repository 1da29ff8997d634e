package dev.fluxion.tensor;

import java.util.Locale;

/** toString like PyTorch: nested brackets, at most 3 leading and trailing items per dim past 1000 elements. */
final class TensorFormat {
    private TensorFormat() {}

    private static final int THRESHOLD = 1000, EDGE = 3;

    static String format(Tensor t) {
        if (t.isClosed()) return "tensor(<closed>, shape=" + Shape.str(t.shape()) + ", dtype=" + t.dtype() + ")";
        double[] v = t.toDoubleArray();
        boolean summarize = v.length > THRESHOLD;
        boolean integral = !t.dtype().isFloatingPoint();
        boolean allWhole = true;
        double maxAbs = 0;
        for (double d : v) {
            if (Double.isFinite(d)) maxAbs = Math.max(maxAbs, Math.abs(d));
            if (d != Math.rint(d)) allWhole = false;
        }
        boolean sci = !integral && (maxAbs >= 1e8 || maxAbs > 0 && maxAbs < 1e-4);
        StringBuilder sb = new StringBuilder("tensor(");
        int[] shape = t.shape();
        if (shape.length == 0) sb.append(cell(v[0], t.dtype(), integral, allWhole, sci));
        else append(sb, v, shape, 0, 0, t.dtype(), integral, allWhole, sci, summarize, 7);
        sb.append(", shape=").append(Shape.str(shape)).append(", dtype=").append(t.dtype());
        if (!t.device().equals(Device.CPU)) sb.append(", device=").append(t.device());
        if (t.requiresGrad()) sb.append(", requiresGrad=true");
        return sb.append(')').toString();
    }

    private static int append(StringBuilder sb, double[] v, int[] shape, int dim, int base, DType dt, boolean integral,
                              boolean whole, boolean sci, boolean summarize, int indent) {
        int n = shape[dim];
        int inner = 1;
        for (int k = dim + 1; k < shape.length; k++) inner *= shape[k];
        sb.append('[');
        for (int i = 0; i < n; i++) {
            if (summarize && n > 2 * EDGE && i == EDGE) {
                sb.append(dim == shape.length - 1 ? "..., " : "...,\n" + " ".repeat(indent + dim + 1));
                i = n - EDGE;
            }
            if (dim == shape.length - 1) sb.append(cell(v[base + i], dt, integral, whole, sci));
            else append(sb, v, shape, dim + 1, base + i * inner, dt, integral, whole, sci, summarize, indent);
            if (i < n - 1) sb.append(dim == shape.length - 1 ? ", " : ",\n" + " ".repeat(indent + dim + 1));
        }
        return sb.append(']').length();
    }

    private static String cell(double d, DType dt, boolean integral, boolean whole, boolean sci) {
        if (dt == DType.BOOL) return d != 0 ? "True" : "False";
        if (integral) return Long.toString((long) d);
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (sci) return String.format(Locale.ROOT, "%.4e", d);
        if (whole) return String.format(Locale.ROOT, "%.0f.", d);
        return String.format(Locale.ROOT, "%.4f", d);
    }
}
