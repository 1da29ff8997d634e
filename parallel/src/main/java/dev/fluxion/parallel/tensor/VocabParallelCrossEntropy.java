package dev.fluxion.parallel.tensor;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Losses;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * Cross-entropy over logits whose vocabulary is split across the tensor-parallel group (Megatron's
 * vocab_parallel_cross_entropy): no rank ever holds the full logits. Each rank has (N, V/n) logits for
 * ids [r V/n, (r+1) V/n); three all-reduces of N numbers each give the row max (max), the sum of
 * exponentials (sum) and the target's logit (sum, from the one rank that holds it). The loss is the mean
 * over targets that are not ignoreIndex, as {@link Losses#crossEntropy}; backward is softmax - onehot on
 * this rank's columns, with no communication.
 *
 * <pre>{@code
 * Tensor localLogits = model.forward(ids);                                  // (B, T, V/n)
 * Tensor loss = VocabParallelCrossEntropy.apply(localLogits, targets, tp);  // the same on every rank
 * }</pre>
 */
public final class VocabParallelCrossEntropy {
    private VocabParallelCrossEntropy() {}

    /** Mean cross-entropy of local logits (..., V/n) against global class ids (...) int64, ignoring {@link Losses#IGNORE_INDEX}. */
    public static Tensor apply(Tensor localLogits, Tensor targets, ProcessGroup group) {
        return apply(localLogits, targets, group, Losses.IGNORE_INDEX);
    }

    /** As {@link #apply(Tensor, Tensor, ProcessGroup)} with targets equal to ignoreIndex left out of the mean. */
    public static Tensor apply(Tensor localLogits, Tensor targets, ProcessGroup group, long ignoreIndex) {
        if (targets.dtype() != DType.INT64) throw new IllegalArgumentException("vocabParallelCrossEntropy: targets must be int64 class ids, got " + targets.dtype());
        int[] ls = localLogits.shape(), ts = targets.shape();
        if (ls.length != ts.length + 1 || !java.util.Arrays.equals(java.util.Arrays.copyOf(ls, ts.length), ts))
            throw new IllegalArgumentException("vocabParallelCrossEntropy: logits " + Shape.str(ls) + " and targets " + Shape.str(ts) + " must be (..., V/n) and (...)");
        int part = ls[ls.length - 1];
        long start = (long) group.rank() * part, vocab = (long) part * group.size();
        long[] t = targets.reshape(-1).toLongArray();
        int rows = t.length;
        long[] localIds = new long[rows];
        float[] mine = new float[rows], valid = new float[rows];
        int count = 0;
        for (int i = 0; i < rows; i++) {
            if (t[i] == ignoreIndex) continue;
            if (t[i] < 0 || t[i] >= vocab)
                throw new IndexOutOfBoundsException("vocabParallelCrossEntropy: target " + t[i] + " at position " + i + " is outside [0, " + vocab + ")");
            valid[i] = 1;
            count++;
            if (t[i] >= start && t[i] < start + part) { mine[i] = 1; localIds[i] = t[i] - start; }
        }
        Tensor idx = Tensor.of(localIds, rows, 1).to(localLogits.device());          // (N, 1) column in this rank's block (0 elsewhere)
        Tensor mineT = Tensor.of(mine, rows, 1).to(localLogits.device());            // (N, 1) 1 where this rank holds the target
        Tensor validT = Tensor.of(valid, rows, 1).to(localLogits.device());          // (N, 1) 0 for ignored targets
        double n = count == 0 ? Double.NaN : count;                                   // all ignored: NaN, as PyTorch
        Tensor[] softmax = new Tensor[1];                                             // (N, V/n), kept for backward
        return Autodiff.function("tp.vocabParallelCrossEntropy", in -> {
            Tensor z = in[0].to(DType.FLOAT32).reshape(rows, part);                   // (N, V/n)
            Tensor max = Mappings.allReduce(z.max(1, true), group, ReduceOp.MAX);     // (N, 1) global row max
            Tensor shifted = z.sub(max);
            Tensor exp = shifted.exp();
            Tensor sum = Mappings.allReduce(exp.sum(1, true), group, ReduceOp.SUM);   // (N, 1) global sum of exponentials
            Tensor picked = Mappings.allReduce(shifted.gather(1, idx).mul(mineT), group, ReduceOp.SUM);   // (N, 1) target's shifted logit
            softmax[0] = exp.div(sum);
            return sum.log().sub(picked).mul(validT).sum().div(n);                    // mean of log(sum exp) - z_target
        }, (in, out, g) -> {
            Tensor onehot = Tensor.zerosLike(softmax[0]).scatterAdd(1, idx, mineT);
            Tensor grad = softmax[0].sub(onehot).mul(validT).mul(g.div(n));          // (N, V/n)
            softmax[0] = null;
            return new Tensor[] {grad.reshape(ls).to(in[0].dtype())};
        }, localLogits);
    }
}
