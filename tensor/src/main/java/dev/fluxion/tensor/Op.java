package dev.fluxion.tensor;

/**
 * The primitive differentiable ops. Every op in the public API is one of these or is written with them
 * (composite ops such as mean, var, addmm or stack need no backward rule of their own); ops with a faster
 * kernel than their composition (layer norm, cross-entropy) are {@link FusedOp}s.
 * When gradients are recorded, one {@code Op} value names the op and carries the arguments its backward
 * rule needs; module fluxion-autodiff holds the table of rules, one per record here.
 */
public sealed interface Op {
    String name();

    /** y = f(x) elementwise. */
    record Unary(UnaryOp kind) implements Op { public String name() { return kind.opName(); } }

    /** y = f(a, b) elementwise; a and b were broadcast to y's shape before the call. */
    record Binary(BinaryOp kind) implements Op { public String name() { return kind.opName(); } }

    /** y = cond ? a : b. Inputs: cond (bool), a, b, all of y's shape. */
    record Where() implements Op { public String name() { return "where"; } }

    /** y = min(max(x, lo), hi). */
    record Clamp(double lo, double hi) implements Op { public String name() { return "clamp"; } }

    /** y = x converted to dtype {@code to}. */
    record Cast(DType to) implements Op { public String name() { return "to(" + to + ")"; } }

    /** Sum, max or min over {@code dims}. */
    record Reduce(ReduceOp kind, int[] dims, boolean keepdim) implements Op { public String name() { return kind.opName(); } }

    record Softmax(int dim) implements Op { public String name() { return "softmax"; } }

    record LogSoftmax(int dim) implements Op { public String name() { return "log_softmax"; } }

    /** [B, M, K] @ [B, K, N] -> [B, M, N] (batch dims already broadcast and flattened). */
    record MatMul() implements Op { public String name() { return "matmul"; } }

    /** A view with a new shape over the same elements. */
    record Reshape(int[] from, int[] to) implements Op { public String name() { return "reshape"; } }

    record Permute(int[] order) implements Op { public String name() { return "permute"; } }

    record Expand(int[] from, int[] to) implements Op { public String name() { return "expand"; } }

    /** Elements start, start+step, ... &lt; end along dim. */
    record Slice(int dim, int start, int end, int step) implements Op { public String name() { return "slice"; } }

    /** A contiguous copy (identity for gradients). */
    record Contiguous() implements Op { public String name() { return "contiguous"; } }

    /** Inputs: x, index (int64, 1-D). */
    record IndexSelect(int dim) implements Op { public String name() { return "index_select"; } }

    /** Inputs: x, index (int64, rank of x). */
    record Gather(int dim) implements Op { public String name() { return "gather"; } }

    /** out = x; out[index[i][j]][j] += src[i][j] (for dim 0). Inputs: x, index, src. */
    record ScatterAdd(int dim) implements Op { public String name() { return "scatter_add"; } }

    /** out = x; out.select(dim, index[i]) += src.select(dim, i). Inputs: x, index (1-D), src. */
    record IndexAdd(int dim) implements Op { public String name() { return "index_add"; } }

    /** Inputs: the tensors joined along dim. */
    record Cat(int dim) implements Op { public String name() { return "cat"; } }

    /** y = fn(x), or fn(a, b) broadcast (the rule sums each gradient back to its input's shape), for the {@link MathFn} kinds. */
    record MathFunction(MathFn fn) implements Op { public String name() { return fn.opName(); } }

    /** Running sum along dim. */
    record CumSum(int dim) implements Op { public String name() { return "cumsum"; } }

    /** Running product along dim. Inputs: x. */
    record CumProd(int dim) implements Op { public String name() { return "cumprod"; } }
}
