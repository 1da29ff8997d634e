package dev.fluxion.parallel.tensor;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.fsdp.FullyShardedDataParallel;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Tensor parallelism for whole models: the plan that makes a {@link Gpt} tensor-parallel, and single-process
 * checkpoints for a parallel model (each rank slices its pieces on load; saving all-gathers them).
 *
 * <pre>{@code
 * var init = Init.seed(1337);
 * Gpt model = new Gpt(config, init);                      // the full model, the same on every rank (same seed)
 * ProcessGroup tp = mesh.group("tp");
 * TensorParallel.gptPlan(config).apply(model, new TpContext(tp, sequenceParallel, init.generator()));
 * Tensor loss = VocabParallelCrossEntropy.apply(model.forward(ids), targets, tp);
 * Map<String, Tensor> full = TensorParallel.fullStateDict(model, tp);   // single-process names and shapes
 * }</pre>
 *
 * Since the parallel modules slice the full model's weights, the same seed gives the same initial weights
 * for every tensor-parallel degree; building the full model on each rank costs its memory once, at start.
 */
public final class TensorParallel {
    private TensorParallel() {}

    /**
     * Megatron's layout for a Gpt: token embedding vocab-parallel; in each block the attention heads split
     * (qkv column-parallel, proj row-parallel) and the MLP split (fc column-parallel, proj row-parallel); the
     * head column-parallel, so the model returns this rank's (B, T, V/n) logits for
     * {@link VocabParallelCrossEntropy}. With sequence parallelism the token embedding reduce-scatters over
     * the sequence, each rank adds its rows of the (replicated) position table, and the layer norms and
     * dropouts run on (B, T/n, C) blocks of the sequence (T divisible by n). Needs heads, 4 x width
     * and vocab divisible by the group size.
     */
    public static ParallelizePlan gptPlan(Gpt.Config c) {
        double eps = 1e-5;   // Gpt's LayerNorms use LayerNorm's default
        return ParallelizePlan.of()
                .with("tokens", ParallelStyle.vocabEmbedding())
                .with("positions", ParallelStyle.sequenceSplitOutput(0))
                .with("dropout", ParallelStyle.sequenceDropout(c.dropout()))
                .with("blocks.*.ln1", ParallelStyle.sequenceNorm(eps))
                .with("blocks.*.attn", ParallelStyle.attention(c.heads(), c.dropout()))
                .with("blocks.*.ln2", ParallelStyle.sequenceNorm(eps))
                .with("blocks.*.mlp.0", ParallelStyle.colwise())
                .with("blocks.*.mlp.2", ParallelStyle.rowwise())
                .with("blocks.*.mlp.3", ParallelStyle.sequenceDropout(c.dropout()))
                .with("lnF", ParallelStyle.sequenceNorm(eps))
                .with("head", ParallelStyle.colwise());
    }

    /** Full parameter name -> how it is cut, for every sharded parameter of model (replicated ones are absent). */
    public static Map<String, Shard> shards(Module model) {
        Map<String, Shard> out = new LinkedHashMap<>();
        for (var m : model.namedModules().entrySet())
            if (m.getValue() instanceof Sharded s)
                for (var e : s.shards().entrySet()) out.put(m.getKey().isEmpty() ? e.getKey() : m.getKey() + "." + e.getKey(), e.getValue());
        return out;
    }

    /**
     * The single-process state dict of a tensor-parallel model: sharded parameters all-gathered and put back
     * together, replicated ones copied. Every rank of group must call it; every rank gets the whole dict.
     */
    public static Map<String, Tensor> fullStateDict(Module model, ProcessGroup group) { return fullStateDict(model.stateDict(), model, group); }

    /**
     * As {@link #fullStateDict(Module, ProcessGroup)} for a state dict of model's names held elsewhere (an
     * FSDP-wrapped model's {@code fullStateDict()}, whose parameters are this rank's tensor-parallel pieces):
     * the pieces of model's sharded parameters are all-gathered and put back together. Every rank of group
     * calls it with the same keys in the same order.
     */
    public static Map<String, Tensor> fullStateDict(Map<String, Tensor> state, Module model, ProcessGroup group) {
        return assemble(state, shards(model), group);
    }

    /**
     * The single-process state dict of a tensor-parallel model that FSDP shards further (FSDP over "dp",
     * tensor parallelism over "tp"): FSDP's consolidated tensors (this rank's tensor-parallel pieces, whole)
     * put together over group. A collective over every rank of the mesh; every rank gets the whole dict.
     */
    public static Map<String, Tensor> fullStateDict(FullyShardedDataParallel fsdp, ProcessGroup group) {
        return fullStateDict(fsdp.fullStateDict(), fsdp.module(), group);
    }

    /** The inverse of {@link #fullStateDict(FullyShardedDataParallel, ProcessGroup)}: each rank keeps its rows of its tensor-parallel pieces. */
    public static void loadFullStateDict(FullyShardedDataParallel fsdp, Map<String, Tensor> full, ProcessGroup group) {
        Map<String, Shard> shards = shards(fsdp.module());
        Map<String, Tensor> local = new LinkedHashMap<>();
        for (var e : full.entrySet()) {
            Shard s = shards.get(e.getKey());
            local.put(e.getKey(), s == null ? e.getValue() : s.slice(e.getValue(), group.rank(), group.size()));
        }
        fsdp.loadFullStateDict(local);
    }

    private static Map<String, Tensor> assemble(Map<String, Tensor> state, Map<String, Shard> shards, ProcessGroup group) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (var off = Autodiff.noGrad()) {
            for (var e : state.entrySet()) {
                Shard s = shards.get(e.getKey());
                Tensor local = e.getValue().detach().contiguous();
                if (s == null || group.size() == 1) { out.put(e.getKey(), local.copy()); continue; }
                List<Tensor> pieces = TpTraining.gather(local, group);
                out.put(e.getKey(), s.assemble(pieces));
            }
        }
        return out;
    }

    /**
     * Loads a single-process state dict (as {@code new Gpt(...).stateDict()} or a safetensors file of it) into
     * a tensor-parallel model: each rank copies its piece of every sharded tensor. Strict: the keys must be
     * the model's, and each full shape must be the one this rank's piece was cut from.
     */
    public static void loadFullStateDict(Module model, Map<String, Tensor> full, ProcessGroup group) {
        Map<String, Shard> shards = shards(model);
        Map<String, Tensor> own = model.stateDict();
        if (!own.keySet().equals(full.keySet())) {
            var missing = new TreeSet<>(own.keySet());
            missing.removeAll(full.keySet());
            var unexpected = new TreeSet<>(full.keySet());
            unexpected.removeAll(own.keySet());
            throw new IllegalArgumentException("TensorParallel.loadFullStateDict: keys do not match: missing " + missing + ", unexpected " + unexpected);
        }
        Map<String, Tensor> local = new LinkedHashMap<>();
        for (var e : own.entrySet()) {
            Tensor src = full.get(e.getKey());
            Shard s = shards.get(e.getKey());
            Tensor piece = s == null ? src : s.slice(src, group.rank(), group.size());
            if (!Arrays.equals(piece.shape(), e.getValue().shape()))
                throw new IllegalArgumentException("TensorParallel.loadFullStateDict: '" + e.getKey() + "' of full shape " + Shape.str(src.shape())
                        + " gives a piece " + Shape.str(piece.shape()) + " on rank " + group.rank() + ", but the model holds " + Shape.str(e.getValue().shape()));
            local.put(e.getKey(), piece);
        }
        model.loadStateDict(local);
    }

    /** Bytes of this rank's parameters. */
    public static long parameterBytes(Module model) {
        long n = 0;
        for (Parameter p : model.parameters()) n += p.numel() * p.dtype().byteSize();
        return n;
    }
}
