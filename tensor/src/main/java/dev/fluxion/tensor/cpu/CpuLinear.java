package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.LinearOp;
import dev.fluxion.tensor.ReduceOp;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * The CPU kernel of {@link LinearOp} for float32: the output rows start as the bias and one OpenBLAS GEMM
 * adds x W^T to them (beta = 1), so no separate pass adds the bias; backward gives dx = g W, the weight
 * gradient g^T x as one GEMM straight into an (out, in) tensor (no transposed gradient to copy), and the bias
 * gradient as one column sum.
 */
final class CpuLinear implements FusedKernel<LinearOp> {
    static final CpuLinear KERNEL = new CpuLinear();

    private CpuLinear() {}

    private static FloatBuffer buf(Tensor t) { return ((CpuStorage) t.storage()).floats("linear"); }

    @Override public FusedOp.Result forward(LinearOp op, Tensor[] in) {
        if (!CpuBackend.float32InOneBuffer(in)) return null;
        Tensor x = CpuBackend.contiguousOrCopy(in[0]), w = in[1], b = CpuBackend.contiguousOrCopy(in[2]);
        int k = w.size(1), n = w.size(0), m = (int) (x.numel() / Math.max(k, 1));
        int[] shape = x.shape();
        shape[shape.length - 1] = n;
        Tensor y = CpuBackend.empty(DType.FLOAT32, shape);
        if (m == 0 || n == 0) return new FusedOp.Result(y);
        FloatBuffer yb = buf(y), bb = buf(b);
        float[] bias = new float[n];
        bb.get((int) b.offset(), bias, 0, n);
        int yo = (int) y.offset();
        Blas.Prefill biasRows = (rowFrom, rowTo, colFrom, colTo) -> {
            for (int r = rowFrom; r < rowTo; r++) yb.put(yo + r * n + colFrom, bias, colFrom, colTo - colFrom);
        };
        // W as stored: (out, in) row-major is W^T's transpose; a transposed view of a contiguous W is read as is
        boolean wRowMajor = w.stride()[1] == 1 && w.stride()[0] >= k, wColMajor = w.stride()[0] == 1 && w.stride()[1] >= n;
        if (!wRowMajor && !wColMajor) { w = CpuBackend.contiguousOrCopy(w); wRowMajor = true; }
        int ldw = (int) (wRowMajor ? w.stride()[0] : w.stride()[1]);
        Blas.sgemm(false, wRowMajor, m, n, k, buf(x), (int) x.offset(), k, buf(w), (int) w.offset(), ldw, 1f, yb, yo, n, biasRows);
        return new FusedOp.Result(y);
    }

    @Override public Tensor[] backward(LinearOp op, Saved s, Tensor g0) {
        if (!CpuBackend.float32InOneBuffer(g0)) return null;
        int n = s.shape(1)[0], k = s.shape(1)[1];
        Tensor g = CpuBackend.contiguousOrCopy(g0);
        int m = (int) (g.numel() / Math.max(n, 1));
        Blas.Product inputGrad = null, weightGrad = null;
        Tensor dx = null, dw = null, db = null;
        if (s.needsGrad(0)) {
            Tensor w = s.input(1);
            if (!CpuBackend.float32InOneBuffer(w)) return null;
            w = CpuBackend.contiguousOrCopy(w);
            dx = CpuBackend.empty(DType.FLOAT32, s.shape(0));
            inputGrad = product(false, false, m, k, n, g, n, w, k, dx);           // dx = g W
        }
        if (s.needsGrad(1)) {
            Tensor x = s.input(0);
            if (!CpuBackend.float32InOneBuffer(x)) return null;
            x = CpuBackend.contiguousOrCopy(x);
            dw = CpuBackend.empty(DType.FLOAT32, new int[] {n, k});
            weightGrad = product(true, false, n, k, m, g, n, x, k, dw);           // dW = g^T x
        }
        if (m == 0) {                                                             // no rows: the sums over them are 0
            if (dx != null) CpuBackend.INSTANCE.fill(dx, 0);
            if (dw != null) CpuBackend.INSTANCE.fill(dw, 0);
        } else if (inputGrad != null && weightGrad != null) Blas.sgemmPair(inputGrad, weightGrad);
        else if (inputGrad != null) inputGrad.run();
        else if (weightGrad != null) weightGrad.run();
        if (s.needsGrad(2)) db = CpuReduce.reduce(ReduceOp.SUM, g.reshape(m, n), new int[] {0}, false);
        return new Tensor[] {dx, dw, db};
    }

    /** c = op(a) op(b), to run (a, b, c contiguous in one buffer each). */
    private static Blas.Product product(boolean transA, boolean transB, int m, int n, int k, Tensor a, int lda, Tensor b, int ldb, Tensor c) {
        return new Blas.Product(transA, transB, m, n, k, buf(a), (int) a.offset(), lda, buf(b), (int) b.offset(), ldb, 0f, buf(c), (int) c.offset(), n);
    }
}
