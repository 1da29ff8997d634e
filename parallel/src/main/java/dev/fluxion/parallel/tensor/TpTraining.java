package dev.fluxion.parallel.tensor;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.parallel.fsdp.FullyShardedDataParallel;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training-loop parts that must know which parameters are split: gradient clipping by the global norm,
 * and optimizer state dicts in single-process form (so a tensor-parallel run's checkpoint resumes in one
 * process or at another degree). Both assume the optimizer was built with {@code model.parameters()}.
 */
public final class TpTraining {
    private TpTraining() {}

    /**
     * Scales every gradient by min(1, maxNorm / (total + 1e-6)), total being the 2-norm of the full model's
     * gradients (as Clipping.clipGradNorm on the single-process model): split parameters' squares are summed
     * over the group, replicated ones counted once. Every rank of group calls it. Returns total.
     */
    public static double clipGradNorm(Module model, double maxNorm, ProcessGroup group) {
        var shards = TensorParallel.shards(model);
        double split = 0, replicated = 0;
        List<Tensor> grads = new ArrayList<>();
        try (var off = Autodiff.noGrad()) {
            for (var e : model.namedParameters().entrySet()) {
                Tensor g = e.getValue().grad();
                if (g == null) continue;
                grads.add(g);
                double sq = g.to(DType.FLOAT64).pow(2).sum().item();
                if (shards.containsKey(e.getKey())) split += sq;
                else replicated += sq;
            }
            Tensor s = Tensor.of(new double[] {split}, 1);
            if (group.size() > 1) group.allReduce(s, ReduceOp.SUM).waitFor();
            double total = Math.sqrt(s.item() + replicated);
            double coef = Math.min(1.0, maxNorm / (total + 1e-6));
            if (coef < 1) for (Tensor g : grads) g.mul_(coef);
            return total;
        }
    }

    /**
     * Clipping by the global norm when FSDP shards a tensor-parallel model over "dp" and group is "tp": the
     * squares of FSDP's shards are summed over FSDP's shard group, and those of tensor-parallel pieces also
     * over group (replicated parameters are counted once). Every rank of the mesh calls it. Returns the norm
     * before clipping, as Clipping.clipGradNorm on the single-process model.
     */
    public static double clipGradNorm(FullyShardedDataParallel fsdp, double maxNorm, ProcessGroup group) {
        if (!(maxNorm >= 0)) throw new IllegalArgumentException("TpTraining.clipGradNorm: maxNorm must be >= 0, got " + maxNorm);
        var shards = TensorParallel.shards(fsdp.module());
        List<Tensor> grads = new ArrayList<>();
        try (var off = Autodiff.noGrad()) {
            double split = 0, replicated = 0;
            for (var e : fsdp.namedParameters().entrySet()) {
                Tensor g = e.getValue().grad();
                if (g == null) continue;
                grads.add(g);
                double sq = g.to(DType.FLOAT64).pow(2).sum().item();
                if (shards.containsKey(e.getKey())) split += sq;
                else replicated += sq;
            }
            Tensor both = Tensor.of(new double[] {split, replicated}, 2);
            ProcessGroup dp = fsdp.shardGroup();
            if (dp != null) dp.allReduce(both, ReduceOp.SUM).waitFor();
            double[] sums = both.toDoubleArray();
            Tensor s = Tensor.of(new double[] {sums[0]}, 1);
            if (group.size() > 1) group.allReduce(s, ReduceOp.SUM).waitFor();
            double total = Math.sqrt(s.item() + sums[1]);
            double coef = Math.min(1.0, maxNorm / (total + 1e-6));
            if (coef < 1) for (Tensor g : grads) g.mul_(coef);
            return total;
        }
    }

    /**
     * An optimizer state dict ("state.i.name" keyed by parameter number) with each tensor shaped like a split
     * parameter gathered into its full shape; everything else is copied. Every rank of group calls it.
     */
    public static Map<String, Tensor> fullOptimizerState(Map<String, Tensor> state, Module model, ProcessGroup group) {
        List<Parameter> params = model.parameters();
        List<Shard> byIndex = shardsByIndex(model);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : state.entrySet()) {
            int i = paramIndex(e.getKey());
            Shard s = i < 0 ? null : byIndex.get(i);
            Tensor t = e.getValue();
            if (s == null || group.size() == 1 || !Arrays.equals(t.shape(), params.get(i).shape())) { out.put(e.getKey(), t); continue; }
            out.put(e.getKey(), s.assemble(gather(t.contiguous(), group)));
        }
        return out;
    }

    /** The inverse of {@link #fullOptimizerState}: keeps this rank's piece of each tensor shaped like a full split parameter. */
    public static Map<String, Tensor> localOptimizerState(Map<String, Tensor> full, Module model, ProcessGroup group) {
        List<Parameter> params = model.parameters();
        List<Shard> byIndex = shardsByIndex(model);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : full.entrySet()) {
            int i = paramIndex(e.getKey());
            Shard s = i < 0 ? null : byIndex.get(i);
            Tensor t = e.getValue();
            if (s == null || group.size() == 1 || t.dim() != params.get(i).dim()) { out.put(e.getKey(), t); continue; }
            int[] fullShape = params.get(i).shape();
            fullShape[s.dim()] *= group.size();
            out.put(e.getKey(), Arrays.equals(fullShape, t.shape()) ? s.slice(t, group.rank(), group.size()) : t);
        }
        return out;
    }

    private static List<Shard> shardsByIndex(Module model) {
        var shards = TensorParallel.shards(model);
        List<Shard> out = new ArrayList<>();
        for (String name : model.namedParameters().keySet()) out.add(shards.get(name));
        return out;
    }

    /** i of "state.i.name", or -1. */
    private static int paramIndex(String key) {
        if (!key.startsWith("state.")) return -1;
        int dot = key.indexOf('.', 6);
        try {
            return dot < 0 ? -1 : Integer.parseInt(key.substring(6, dot));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    static List<Tensor> gather(Tensor local, ProcessGroup group) {
        int[] ls = local.shape();
        int[] gs = new int[ls.length + 1];
        gs[0] = group.size();
        System.arraycopy(ls, 0, gs, 1, ls.length);
        Tensor all = Tensor.empty(local.dtype(), local.device(), gs);
        group.allGather(all, local).waitFor();
        List<Tensor> pieces = new ArrayList<>();
        for (int r = 0; r < group.size(); r++) pieces.add(all.select(0, r));
        return pieces;
    }
}
