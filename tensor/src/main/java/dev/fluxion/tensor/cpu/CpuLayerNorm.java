package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * Fused layer normalization over the last dim for float32: one pass per row forward (mean and variance
 * in double), one pass per row backward, instead of the dozen tensor ops and temporaries of the composite.
 * Weight and bias gradients are summed per piece of rows and the pieces added in order, so results do not
 * depend on thread timing.
 */
final class CpuLayerNorm {
    private CpuLayerNorm() {}

    static boolean fits(Tensor... ts) {
        for (Tensor t : ts) if (t.dtype() != DType.FLOAT32 || !CpuStorage.fitsOneBuffer(t)) return false;   // else the composite
        return true;
    }

    private static Tensor contiguous(Tensor t) {
        if (t.isContiguous()) return t;
        Tensor c = CpuBackend.empty(t.dtype(), t.shape());
        CpuBackend.INSTANCE.copy(t, c);
        return c;
    }

    private static FloatBuffer buf(Tensor t) { return ((CpuStorage) t.storage()).floats("layerNorm"); }

    /** The row's mean, summed in double. */
    private static float mean(float[] row, int c) {
        double sum = 0;
        for (int i = 0; i < c; i++) sum += row[i];
        return (float) (sum / c);
    }

    /** 1 / sqrt(biased variance + eps), the variance summed in double (the same numbers forward and backward). */
    private static float rstd(float[] row, int c, float mean, double eps) {
        double sq = 0;
        for (int i = 0; i < c; i++) { float d = row[i] - mean; sq += d * d; }
        return (float) (1 / Math.sqrt(sq / c + eps));
    }

    static Tensor forward(Tensor x0, Tensor w0, Tensor b0, double eps) {
        Tensor x = contiguous(x0), w = contiguous(w0), b = contiguous(b0);
        int c = x.size(-1), rows = (int) (x.numel() / Math.max(c, 1));   // one buffer (fits), so an int
        Tensor y = CpuBackend.empty(DType.FLOAT32, x.shape());
        FloatBuffer xb = buf(x), yb = buf(y);
        float[] wa = new float[c], ba = new float[c];
        buf(w).get((int) w.offset(), wa, 0, c);
        buf(b).get((int) b.offset(), ba, 0, c);
        int xo = (int) x.offset();
        Parallel.forRange(rows, Math.max(1, Parallel.GRAIN / Math.max(c, 1)), (lo, hi) -> {
            float[] row = new float[c];
            for (int r = (int) lo; r < hi; r++) {
                xb.get(xo + r * c, row, 0, c);
                float mean = mean(row, c), rstd = rstd(row, c, mean, eps);
                for (int i = 0; i < c; i++) row[i] = (row[i] - mean) * rstd * wa[i] + ba[i];
                yb.put(r * c, row, 0, c);
            }
        });
        return y;
    }

    static Tensor[] backward(Tensor x0, Tensor w0, Tensor g0, double eps) {
        Tensor x = contiguous(x0), w = contiguous(w0), g = contiguous(g0);
        int c = x.size(-1), rows = (int) (x.numel() / Math.max(c, 1));
        Tensor dx = CpuBackend.empty(DType.FLOAT32, x.shape());
        FloatBuffer xb = buf(x), gb = buf(g), db = buf(dx);
        float[] wa = new float[c];
        buf(w).get((int) w.offset(), wa, 0, c);
        int xo = (int) x.offset(), go = (int) g.offset();
        int pieces = Math.max(1, Math.min(rows, Parallel.threads() * 4));
        double[][] dw = new double[pieces][c], dbias = new double[pieces][c];
        Parallel.forRange(pieces, 1, (plo, phi) -> {
            float[] xr = new float[c], gr = new float[c], xhat = new float[c];
            for (int p = (int) plo; p < phi; p++) {
                int from = (int) ((long) rows * p / pieces), to = (int) ((long) rows * (p + 1) / pieces);
                double[] dwp = dw[p], dbp = dbias[p];
                for (int r = from; r < to; r++) {
                    xb.get(xo + r * c, xr, 0, c);
                    gb.get(go + r * c, gr, 0, c);
                    float mean = mean(xr, c), rstd = rstd(xr, c, mean, eps);
                    double meanGw = 0, meanGwXhat = 0;
                    for (int i = 0; i < c; i++) {
                        xhat[i] = (xr[i] - mean) * rstd;
                        float gw = gr[i] * wa[i];
                        meanGw += gw;
                        meanGwXhat += gw * xhat[i];
                        dwp[i] += gr[i] * xhat[i];
                        dbp[i] += gr[i];
                    }
                    float m1 = (float) (meanGw / c), m2 = (float) (meanGwXhat / c);
                    for (int i = 0; i < c; i++) xr[i] = (gr[i] * wa[i] - m1 - xhat[i] * m2) * rstd;
                    db.put(r * c, xr, 0, c);
                }
            }
        });
        float[] dwf = new float[c], dbf = new float[c];
        for (int i = 0; i < c; i++) {
            double sw = 0, sb = 0;
            for (int p = 0; p < pieces; p++) { sw += dw[p][i]; sb += dbias[p][i]; }
            dwf[i] = (float) sw;
            dbf[i] = (float) sb;
        }
        return new Tensor[] {dx, Tensor.of(dwf, c), Tensor.of(dbf, c)};
    }
}
