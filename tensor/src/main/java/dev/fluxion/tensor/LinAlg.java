package dev.fluxion.tensor;

import java.util.Arrays;

/** matmul with batch broadcasting (NumPy rules), addmm and outer. Under {@link Autocast} matmul and addmm run in the scope's 16-bit dtype. */
final class LinAlg {
    private LinAlg() {}

    static Tensor matmul(Tensor a, Tensor b) {
        a = Autocast.cast(Autocast.Policy.LOWER, a);   // no-ops outside autocast; inside, recorded casts
        b = Autocast.cast(Autocast.Policy.LOWER, b);
        Elementwise.checkPair("matmul", a, b);
        if (a.dim() == 0 || b.dim() == 0)
            throw new IllegalArgumentException("matmul: both arguments need at least 1 dim, got " + Shape.str(a.shape()) + " @ " + Shape.str(b.shape()));
        if (!a.dtype().isFloatingPoint())
            throw new IllegalArgumentException("matmul: not defined for " + a.dtype() + " tensors; cast to a floating dtype first");
        if (b.dim() == 2 && a.dim() > 2 && a.size(-1) == b.size(0)) {
            // (..., M, K) @ (K, N) is one (prod(...) * M, K) @ (K, N) product, not a batch of small ones: OpenBLAS
            // runs the single big GEMM at full speed, and its backward gives the weight gradient as one GEMM too
            int[] shape = a.shape();
            shape[shape.length - 1] = b.size(1);
            return matmul(a.reshape(-1, a.size(-1)), b).reshape(shape);
        }
        boolean vecA = a.dim() == 1, vecB = b.dim() == 1;
        Tensor a2 = vecA ? a.unsqueeze(0) : a, b2 = vecB ? b.unsqueeze(1) : b;  // vectors become 1 x K and K x 1
        int k = a2.size(-1);
        if (k != b2.size(-2))
            throw new IllegalArgumentException("matmul: " + Shape.str(a.shape()) + " @ " + Shape.str(b.shape()) + ": inner dimensions " + k + " and " + b2.size(-2) + " differ");
        int m = a2.size(-2), n = b2.size(-1);
        int[] batchA = Arrays.copyOf(a2.shape(), a2.dim() - 2), batchB = Arrays.copyOf(b2.shape(), b2.dim() - 2);
        int[] batch = Shape.broadcast("matmul (batch dims)", batchA, batchB);
        int nb = Shape.intCount("matmul (batch size)", Shape.numel(batch));
        Tensor a3 = a2.expand(concat(batch, m, k)).reshape(nb, m, k);
        Tensor b3 = b2.expand(concat(batch, k, n)).reshape(nb, k, n);
        Tensor out = Autograd.record(new Op.MatMul(), a.backend().matmul(a3, b3), a3, b3);
        int[] shape = concat(batch, m, n);
        if (vecA) shape = dropAt(shape, shape.length - 2);
        if (vecB) shape = dropAt(shape, shape.length - 1);
        Tensor result = out.reshape(shape);
        // result is a view of out's storage. The caller never sees out, so its hold is dropped here: otherwise
        // result.close() would leave the storage open until the GC ran, and every matmul would allocate afresh.
        // A recorded out stays open: the tape holds it until backward, and a freed tensor refuses backward.
        if (result != out && out.gradFn() == null) out.close();
        return result;
    }

    static Tensor addmm(Tensor input, Tensor m1, Tensor m2, double beta, double alpha) {
        if (m1.dim() != 2 || m2.dim() != 2)
            throw new IllegalArgumentException("addmm: expects 2-D matrices, got " + Shape.str(m1.shape()) + " and " + Shape.str(m2.shape()));
        input = Autocast.cast(Autocast.Policy.LOWER, input);   // the sum stays in the GEMM's dtype, as torch.addmm under autocast
        Tensor prod = matmul(m1, m2);
        if (alpha != 1) prod = prod.mul(alpha);
        return beta == 0 ? prod : (beta == 1 ? input : input.mul(beta)).add(prod);
    }

    static Tensor outer(Tensor a, Tensor b) {
        if (a.dim() != 1 || b.dim() != 1)
            throw new IllegalArgumentException("outer: expects 1-D tensors, got " + Shape.str(a.shape()) + " and " + Shape.str(b.shape()));
        return a.unsqueeze(1).mul(b.unsqueeze(0));
    }

    private static int[] concat(int[] batch, int r, int c) {
        int[] s = Arrays.copyOf(batch, batch.length + 2);
        s[batch.length] = r;
        s[batch.length + 1] = c;
        return s;
    }

    private static int[] dropAt(int[] s, int i) {
        int[] o = new int[s.length - 1];
        for (int k = 0, j = 0; k < s.length; k++) if (k != i) o[j++] = s[k];
        return o;
    }
}
