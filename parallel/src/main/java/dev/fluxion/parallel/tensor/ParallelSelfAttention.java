package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Child;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Module;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.AttentionOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Causal self-attention with its heads split across the tensor-parallel group (Megatron's ParallelAttention):
 * rank r runs heads [r H/n, (r+1) H/n). "qkv" is column-parallel in three segments (this rank's rows of q,
 * of k and of v), "proj" row-parallel, so the block costs one all-reduce forward (in proj) and one backward
 * (in qkv's input), or with sequence parallelism an all-gather and a reduce-scatter each way.
 * forward(x) or forward(x, mask): x (B, T, C), or (B, T/n, C) with sequence parallelism -> the same shape.
 * Attention-weight dropout uses the mask the single-process model draws (see {@link ShardedDropout}).
 */
public final class ParallelSelfAttention extends Module {
    private final Child<Module> qkv;            // C -> 3C/n
    private final Child<Module> proj;           // C/n -> C
    private final Child<Module> residDropout;
    private final int localHeads;
    private final double dropout;
    private final Generator generator;
    private final ProcessGroup group;

    /**
     * Splits attention (a {@link dev.fluxion.nn.CausalSelfAttention} with children "qkv", "proj" and
     * "residDropout") of heads heads and dropout probability dropout; generator is the model's Init generator.
     */
    public ParallelSelfAttention(Module attention, int heads, double dropout, Generator generator, ProcessGroup group, boolean sequenceParallel) {
        if (heads % group.size() != 0)
            throw new IllegalArgumentException("ParallelSelfAttention: " + heads + " heads cannot be split evenly over " + group.size() + " ranks");
        Linear q = (Linear) attention.getSubmodule("qkv"), p = (Linear) attention.getSubmodule("proj");
        this.localHeads = heads / group.size();
        this.dropout = dropout;
        this.generator = generator;
        this.group = group;
        this.qkv = child("qkv", new ColumnParallelLinear(q.weight(), q.bias(), 3, group, false, sequenceParallel));
        this.proj = child("proj", RowParallelLinear.of(p, group, sequenceParallel));
        this.residDropout = child("residDropout", sequenceParallel ? new ShardedDropout(dropout, generator, 1, group)
                : attention.getSubmodule("residDropout"));
    }

    @Override protected Tensor compute(Tensor... inputs) {
        checkInputs(inputs, 1, 2);
        Tensor x = inputs[0], mask = inputs.length > 1 ? inputs[1] : null;
        Tensor qkvOut = qkv.forward(x);                                          // (B, T, 3C/n)
        int b = qkvOut.size(0), t = qkvOut.size(1), c = qkvOut.size(2) / 3, d = c / localHeads;
        List<Tensor> parts = qkvOut.split(c, 2);                                 // 3 x (B, T, C/n)
        Tensor q = parts.get(0).reshape(b, t, localHeads, d).transpose(1, 2);    // (B, H/n, T, D)
        Tensor k = parts.get(1).reshape(b, t, localHeads, d).transpose(1, 2);
        Tensor v = parts.get(2).reshape(b, t, localHeads, d).transpose(1, 2);
        Tensor y = attend(q, k, v, mask, isTraining() ? dropout : 0);
        y = y.transpose(1, 2).reshape(b, t, c);                                 // (B, T, C/n)
        return residDropout.forward(proj.forward(y));
    }

    /**
     * Functional.causalAttention on this rank's heads (the same fused {@link AttentionOp}); its dropout
     * multiplier is this rank's heads of the one the single-process model draws.
     */
    private Tensor attend(Tensor q, Tensor k, Tensor v, Tensor mask, double p) {
        List<Tensor> in = new ArrayList<>(List.of(q, k, v));                     // (B, H/n, T, D) each
        if (mask != null) {
            if (mask.dtype() != DType.BOOL)
                throw new IllegalArgumentException("ParallelSelfAttention: mask must be bool (true = may attend), got " + mask.dtype());
            if (mask.dim() == 4 && mask.size(1) != 1)
                throw new IllegalArgumentException("ParallelSelfAttention: a per-head mask " + Shape.str(mask.shape()) + " is not supported; heads are split across ranks");
            in.add(mask);
        }
        if (p > 0) {
            int[] scores = q.shape();                                            // (B, H/n, T, T)
            scores[scores.length - 1] = k.size(-2);
            Tensor keep = ShardedDropout.keep(scores, p, generator, 1, group, q.device());
            in.add(keep.to(q.dtype()).mul(1 / (1 - p)));
        }
        return new AttentionOp(1 / Math.sqrt(q.size(-1)), true, mask != null, p > 0).apply(in.toArray(new Tensor[0]));
    }

    @Override protected String extraRepr() { return "heads/" + group.size() + "=" + localHeads; }
}
