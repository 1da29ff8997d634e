package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.LayerNormOp;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * The CPU kernel of {@link LayerNormOp} for float32: one pass per row forward (mean and variance as
 * {@link FloatKernels#sum}: 16 float lanes, added in double) that also returns mean and rstd ([rows] float32), one pass per row backward that reads them,
 * instead of the dozen tensor ops and temporaries of the composite. Weight and bias gradients are summed
 * per piece of rows and the pieces added in order, so results do not depend on thread timing.
 */
final class CpuLayerNorm implements FusedKernel<LayerNormOp> {
    static final CpuLayerNorm KERNEL = new CpuLayerNorm();

    private CpuLayerNorm() {}

    @Override public FusedOp.Result forward(LayerNormOp op, Tensor[] in) {
        return CpuBackend.float32InOneBuffer(in) ? forward(in[0], in[1], in[2], op.eps()) : null;
    }

    @Override public Tensor[] backward(LayerNormOp op, Saved s, Tensor g) {
        if (!s.needsGrad(0) && !s.needsGrad(1)) return null;            // dbias alone: the composed rule is one sum
        Tensor x = s.input(0), mean = s.state(0), rstd = s.state(1);
        Tensor w = s.needsGrad(0) ? s.input(1) : null;
        if (w == null || !CpuBackend.float32InOneBuffer(x, w, g, mean, rstd)) return null;
        return backward(x, w, g, mean, rstd);
    }

    private static FloatBuffer buf(Tensor t) { return ((CpuStorage) t.storage()).floats("layerNorm"); }

    /** y (..., C), mean and rstd [rows]. */
    static FusedOp.Result forward(Tensor x0, Tensor w0, Tensor b0, double eps) {
        Tensor x = CpuBackend.contiguousOrCopy(x0), w = CpuBackend.contiguousOrCopy(w0), b = CpuBackend.contiguousOrCopy(b0);
        int c = x.size(-1), rows = (int) (x.numel() / Math.max(c, 1));   // one buffer (fits), so an int
        Tensor y = CpuBackend.empty(DType.FLOAT32, x.shape());
        Tensor meanT = CpuBackend.empty(DType.FLOAT32, new int[] {rows}), rstdT = CpuBackend.empty(DType.FLOAT32, new int[] {rows});
        FloatBuffer xb = buf(x), yb = buf(y), mb = buf(meanT), rb = buf(rstdT);
        float[] wa = new float[c], ba = new float[c];
        buf(w).get((int) w.offset(), wa, 0, c);
        buf(b).get((int) b.offset(), ba, 0, c);
        int xo = (int) x.offset(), yOff = (int) y.offset(), mOff = (int) meanT.offset(), rOff = (int) rstdT.offset();
        Parallel.forRange(rows, Math.max(1, Parallel.GRAIN / Math.max(c, 1)), (lo, hi) -> {
            if (NativeKernels.ENABLED) {                                   // the same row steps in C, on the buffers
                NativeKernels.layerNormForwardRows(xb, xo, wa, ba, yb, yOff, mb, mOff, rb, rOff, lo, hi, c, eps);
                return;
            }
            float[] row = new float[c];
            for (int r = (int) lo; r < hi; r++) {
                xb.get(xo + r * c, row, 0, c);
                float mean = (float) (FloatKernels.sum(row, c) / c);
                subtract(row, mean, c);
                float rstd = (float) (1 / Math.sqrt(FloatKernels.dot(row, row, c) / c + eps));
                mb.put(mOff + r, mean);
                rb.put(rOff + r, rstd);
                affine(row, rstd, wa, ba, c);
                yb.put(yOff + r * c, row, 0, c);
            }
        });
        return new FusedOp.Result(y, meanT, rstdT);
    }

    /** {dx, dweight, dbias} from the saved per-row mean and rstd (rows elements each, any shape). */
    static Tensor[] backward(Tensor x0, Tensor w0, Tensor g0, Tensor mean0, Tensor rstd0) {
        Tensor x = CpuBackend.contiguousOrCopy(x0), w = CpuBackend.contiguousOrCopy(w0), g = CpuBackend.contiguousOrCopy(g0), meanT = CpuBackend.contiguousOrCopy(mean0), rstdT = CpuBackend.contiguousOrCopy(rstd0);
        int c = x.size(-1), rows = (int) (x.numel() / Math.max(c, 1));   // one buffer (fits), so an int
        Tensor dx = CpuBackend.empty(DType.FLOAT32, x.shape());
        FloatBuffer xb = buf(x), gb = buf(g), db = buf(dx), mb = buf(meanT), rb = buf(rstdT);
        float[] wa = new float[c];
        buf(w).get((int) w.offset(), wa, 0, c);
        int xo = (int) x.offset(), go = (int) g.offset(), mo = (int) meanT.offset(), ro = (int) rstdT.offset();
        int pieces = Math.max(1, Math.min(rows, Parallel.threads() * 4));
        float[][] dw = new float[pieces][c], dbias = new float[pieces][c];
        int dxo = (int) dx.offset();
        Parallel.forRange(pieces, 1, (plo, phi) -> {
            float[] xr = new float[c], gr = new float[c], xhat = new float[c], gw = new float[c];
            for (int p = (int) plo; p < phi; p++) {
                int from = (int) ((long) rows * p / pieces), to = (int) ((long) rows * (p + 1) / pieces);
                float[] dwp = dw[p], dbp = dbias[p];
                if (NativeKernels.ENABLED) {                               // the same row steps in C, on the buffers
                    NativeKernels.layerNormBackwardRows(xb, xo, gb, go, wa, mb, mo, rb, ro, db, dxo, from, to, c, dwp, dbp);
                    continue;
                }
                for (int r = from; r < to; r++) {
                    xb.get(xo + r * c, xr, 0, c);
                    gb.get(go + r * c, gr, 0, c);
                    backwardRow(xr, gr, wa, xhat, gw, dwp, dbp, mb.get(mo + r), rb.get(ro + r), c);
                    db.put(dxo + r * c, xr, 0, c);
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

    /** row -= mean; its own small method so C2 vectorizes it (see {@link #backwardRow}). */
    private static void subtract(float[] row, float mean, int c) {
        for (int i = 0; i < c; i++) row[i] -= mean;
    }

    /** row = row rstd w + b, as {@link #subtract}. */
    private static void affine(float[] row, float rstd, float[] wa, float[] ba, int c) {
        for (int i = 0; i < c; i++) row[i] = row[i] * rstd * wa[i] + ba[i];
    }

    /**
     * One row: dw += g xhat, db += g, and dx (into xr) = (g w - mean(g w) - xhat mean(g w xhat)) rstd. A small
     * method of one statement per loop, so C2 compiles it on its own and vectorizes each loop; the same loops
     * inline in the piece lambda, or one loop writing four arrays, ran element by element (the backward was
     * 4-5x slower). Same operations per element either way.
     */
    private static void backwardRow(float[] xr, float[] gr, float[] wa, float[] xhat, float[] gw, float[] dwp, float[] dbp, float mean, float rstd, int c) {
        for (int i = 0; i < c; i++) xhat[i] = (xr[i] - mean) * rstd;
        for (int i = 0; i < c; i++) gw[i] = gr[i] * wa[i];
        for (int i = 0; i < c; i++) dwp[i] += gr[i] * xhat[i];
        for (int i = 0; i < c; i++) dbp[i] += gr[i];
        float m1 = (float) (FloatKernels.sum(gw, c) / c), m2 = (float) (FloatKernels.dot(gw, xhat, c) / c);
        for (int i = 0; i < c; i++) xr[i] = (gw[i] - m1 - xhat[i] * m2) * rstd;
    }
}
