package dev.fluxion.parallel.tensor;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * Megatron's tensor-parallel collectives as differentiable functions
 * ({@code megatron/core/tensor_parallel/mappings.py}); each pairs a forward collective with its adjoint:
 *
 * <pre>
 *   copyToRegion              (f)  identity              | all-reduce of the gradient
 *   reduceFromRegion          (g)  all-reduce            | identity
 *   scatterToRegion                split the last dim    | all-gather the last dim
 *   gatherFromRegion               all-gather last dim   | split the last dim
 *   scatterToSequence              split dim 1 (seq)     | all-gather dim 1   (scatterAlong: any dim)
 *   gatherFromSequence             all-gather dim 1      | reduce-scatter dim 1
 *   reduceScatterToSequence        reduce-scatter dim 1  | all-gather dim 1
 * </pre>
 *
 * Activations are (B, T, C), so the sequence dimension is 1 (Megatron keeps (T, B, C) and uses dim 0).
 * Every rank of the group must call the same functions in the same order; with a group of one rank every
 * function is the identity and nothing is sent. Traffic is counted in {@link CommCounter}.
 */
public final class Mappings {
    private Mappings() {}

    /** f: identity forward, all-reduce (sum) of the gradient backward. Enters a tensor-parallel region. */
    public static Tensor copyToRegion(Tensor x, ProcessGroup g) {
        if (g.size() == 1) return x;
        // forward copies: the entry needs an output of its own (a view op may hand back its input, which the tape would not re-record)
        return Autodiff.function("tp.copyToRegion", in -> in[0].copy(), (in, out, grad) -> new Tensor[] {allReduce(grad, g)}, x);
    }

    /** g: all-reduce (sum) forward, identity backward. Leaves a tensor-parallel region (after a row-parallel GEMM). */
    public static Tensor reduceFromRegion(Tensor x, ProcessGroup g) {
        if (g.size() == 1) return x;
        return Autodiff.function("tp.reduceFromRegion", in -> allReduce(in[0], g), (in, out, grad) -> new Tensor[] {grad}, x);
    }

    /** Keeps this rank's block of the last dim; backward all-gathers the gradient along it. */
    public static Tensor scatterToRegion(Tensor x, ProcessGroup g) {
        if (g.size() == 1) return x;
        int d = x.dim() - 1;
        return Autodiff.function("tp.scatterToRegion", in -> split(in[0], d, g), (in, out, grad) -> new Tensor[] {allGather(grad, d, g)}, x);
    }

    /** All-gathers the last dim (rank blocks in rank order); backward keeps this rank's block of the gradient. */
    public static Tensor gatherFromRegion(Tensor x, ProcessGroup g) {
        if (g.size() == 1) return x;
        int d = x.dim() - 1;
        return Autodiff.function("tp.gatherFromRegion", in -> allGather(in[0], d, g), (in, out, grad) -> new Tensor[] {split(grad, d, g)}, x);
    }

    /** Keeps this rank's block of the sequence (dim 1); backward all-gathers the gradient along it. */
    public static Tensor scatterToSequence(Tensor x, ProcessGroup g) { return scatterAlong(x, 1, g); }

    /** Keeps this rank's block of dim; backward all-gathers the gradient along it (the position table's rows are dim 0). */
    public static Tensor scatterAlong(Tensor x, int dim, ProcessGroup g) {
        if (g.size() == 1) return x;
        return Autodiff.function("sp.scatterAlong" + dim, in -> split(in[0], dim, g), (in, out, grad) -> new Tensor[] {allGather(grad, dim, g)}, x);
    }

    /** All-gathers the sequence (dim 1) before a column-parallel GEMM; backward reduce-scatters the gradient. */
    public static Tensor gatherFromSequence(Tensor x, ProcessGroup g) {
        if (g.size() == 1) return x;
        return Autodiff.function("sp.gatherFromSequence", in -> allGather(in[0], 1, g), (in, out, grad) -> new Tensor[] {reduceScatter(grad, 1, g)}, x);
    }

    /** Reduce-scatters along the sequence (dim 1) after a row-parallel GEMM; backward all-gathers the gradient. */
    public static Tensor reduceScatterToSequence(Tensor x, ProcessGroup g) {
        if (g.size() == 1) return x;
        return Autodiff.function("sp.reduceScatterToSequence", in -> reduceScatter(in[0], 1, g), (in, out, grad) -> new Tensor[] {allGather(grad, 1, g)}, x);
    }

    // ---------------------------------------------------------------- the plain (non-recording) collectives

    /** A summed copy of x over the group (x itself is not written). */
    static Tensor allReduce(Tensor x, ProcessGroup g) { return allReduce(x, g, ReduceOp.SUM); }

    /** An op-reduced copy of x over the group. */
    static Tensor allReduce(Tensor x, ProcessGroup g, ReduceOp op) {
        Tensor r = x.copy();
        if (g.size() == 1) return r;
        g.allReduce(r, op).waitFor();
        CommCounter.add(CommCounter.Kind.ALL_REDUCE, r.numel() * r.dtype().byteSize());
        return r;
    }

    /** This rank's block of dim d (a contiguous copy). */
    static Tensor split(Tensor x, int d, ProcessGroup g) {
        int n = g.size(), size = x.size(d);
        if (size % n != 0)
            throw new IllegalArgumentException("tensor parallel split: dim " + d + " of " + Shape.str(x.shape()) + " has size " + size
                    + ", not divisible by the group size " + n);
        int b = size / n;
        return x.narrow(d, g.rank() * b, b).copy();
    }

    /** Blocks of dim d from every rank, concatenated in rank order. */
    static Tensor allGather(Tensor x, int d, ProcessGroup g) {
        int n = g.size();
        int[] s = x.shape();
        Tensor in = x.contiguous();
        int[] gathered = new int[s.length + 1];
        gathered[0] = n;
        System.arraycopy(s, 0, gathered, 1, s.length);
        Tensor out = Tensor.empty(x.dtype(), x.device(), gathered);          // (n, ...x)
        g.allGather(out, in).waitFor();
        CommCounter.add(CommCounter.Kind.ALL_GATHER, out.numel() * out.dtype().byteSize());
        // (n, s0..sd..) -> (s0.., n, sd, ..) -> merge n into dim d
        int[] order = new int[s.length + 1];
        for (int i = 0, k = 0; i <= s.length; i++) order[i] = i == d ? 0 : ++k;
        int[] merged = s.clone();
        merged[d] = s[d] * n;
        return out.permute(order).reshape(merged);
    }

    /** Sums x over the group and keeps this rank's block of dim d. */
    static Tensor reduceScatter(Tensor x, int d, ProcessGroup g) {
        int n = g.size();
        int[] s = x.shape();
        if (s[d] % n != 0)
            throw new IllegalArgumentException("sequence parallel reduce-scatter: dim " + d + " of " + Shape.str(s) + " has size " + s[d]
                    + ", not divisible by the group size " + n);
        int[] blocked = new int[s.length + 1];                              // (s0.., n, sd/n, ..)
        for (int i = 0, k = 0; i < s.length; i++) {
            if (i == d) { blocked[k++] = n; blocked[k++] = s[d] / n; }
            else blocked[k++] = s[i];
        }
        int[] order = new int[s.length + 1];                                // n first
        order[0] = d;
        for (int i = 0, k = 1; i <= s.length; i++) if (i != d) order[k++] = i;
        Tensor in = x.reshape(blocked).permute(order).contiguous();
        int[] local = s.clone();
        local[d] = s[d] / n;
        Tensor out = Tensor.empty(x.dtype(), x.device(), local);
        g.reduceScatter(out, in, ReduceOp.SUM).waitFor();
        CommCounter.add(CommCounter.Kind.REDUCE_SCATTER, in.numel() * in.dtype().byteSize());
        return out;
    }
}
