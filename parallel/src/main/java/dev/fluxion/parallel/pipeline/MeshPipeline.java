package dev.fluxion.parallel.pipeline;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.parallel.DeviceMesh;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.fsdp.FsdpConfig;
import dev.fluxion.parallel.fsdp.FullyShardedDataParallel;
import dev.fluxion.parallel.fsdp.WrapPolicy;
import dev.fluxion.parallel.tensor.TensorParallel;
import dev.fluxion.parallel.tensor.TpContext;
import dev.fluxion.parallel.tensor.VocabParallelCrossEntropy;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * 3-D parallelism for a {@link Gpt} on a {@link DeviceMesh} with dims ("pp", "dp", "tp"): the model is made
 * tensor-parallel over "tp" ({@link TensorParallel#gptPlan}: vocab-parallel embedding, head and loss), cut
 * into pipeline stages over "pp", and each stage is fully sharded (FSDP, one unit per block) over "dp".
 *
 * <p>A step runs the schedule; every backward but each stage's last of the step runs under FSDP's
 * {@code noSync}, so the stage's gradients are summed over the micro-batches locally and reduce-scattered
 * over "dp" once per step (each micro-batch loss is divided by m, so the sum is the batch mean's gradient).
 * Every rank builds the same whole model (same seed). Schedules with split backwards (zb-h1) are not
 * supported here: FSDP gathers a unit's parameters for one whole backward.
 *
 * <pre>{@code
 * DeviceMesh mesh = DeviceMesh.of(world, new String[] {"pp", "dp", "tp"}, new int[] {2, 2, 2});
 * Init init = Init.seed(1);
 * var pipe = MeshPipeline.forGpt(new Gpt(config, init), init.generator(), Schedules.oneForwardOneBackward(2, 4), mesh, FsdpConfig.DEFAULT);
 * var opt = new AdamW(pipe.parameters(), AdamW.Config.DEFAULT);     // this rank's FSDP shards of its TP pieces
 * opt.zeroGrad();
 * double loss = pipe.step(ids.chunk(4, 0), targets.chunk(4, 0));    // this dp replica's rows; the loss on the last stage
 * opt.step();
 * }</pre>
 */
public final class MeshPipeline implements AutoCloseable {
    private final PipelineRunner runner;
    private final Map<Integer, FullyShardedDataParallel> fsdp;
    private final ProcessGroup tp;

    private MeshPipeline(PipelineRunner runner, Map<Integer, FullyShardedDataParallel> fsdp, ProcessGroup tp) {
        this.runner = runner;
        this.fsdp = fsdp;
        this.tp = tp;
    }

    /**
     * Builds this rank's part of gpt. generator is the one gpt's dropouts draw from (its Init's); config the
     * FSDP settings (its strategy shards over "dp"). The stages' activations travel in the dtype of gpt's
     * parameters. Needs heads, 4 x width and vocab divisible by the "tp" size, and at least as many blocks
     * as the schedule has stages.
     */
    public static MeshPipeline forGpt(Gpt gpt, Generator generator, Schedule schedule, DeviceMesh mesh, FsdpConfig config) {
        for (String dim : List.of("pp", "dp", "tp"))
            if (!mesh.names().contains(dim))
                throw new IllegalArgumentException("MeshPipeline.forGpt: the mesh needs dims \"pp\", \"dp\" and \"tp\", got " + mesh);
        ProcessGroup tp = mesh.group("tp"), dp = mesh.group("dp"), pp = mesh.group("pp");
        int layers = gpt.config().layers(), S = schedule.stages();
        if (layers < S) throw new IllegalArgumentException("MeshPipeline.forGpt: " + layers + " blocks cannot fill " + S + " stages");
        if (tp.size() > 1) TensorParallel.gptPlan(gpt.config()).apply(gpt, new TpContext(tp, false, generator));
        Map<Integer, FullyShardedDataParallel> sharded = new LinkedHashMap<>();
        for (int s = pp.rank(); s < S; s += schedule.ranks()) {
            Module stage = gpt.stage(s * layers / S, (s + 1) * layers / S);   // made after the TP plan replaced the modules
            sharded.put(s, FullyShardedDataParallel.fullyShard(stage, dp, WrapPolicy.transformerBlocks(), config));
        }
        int width = gpt.config().width();
        PipelineRunner runner = new PipelineRunner(schedule, pp, s -> sharded.get(s).module(),
                tp.size() > 1 ? (logits, targets) -> VocabParallelCrossEntropy.apply(logits, targets, tp) : Losses::crossEntropy,
                ids -> new int[] {ids.size(0), ids.size(1), width});
        runner.activationDtype(gpt.parameters().get(0).dtype());
        runner.backwardScope((stage, last) -> last ? () -> {} : sharded.get(stage).noSync());
        return new MeshPipeline(runner, sharded, tp);
    }

    /**
     * One step (see {@link PipelineRunner#step}): inputs and targets are this "dp" replica's micro-batches
     * (the same on every "tp" rank). Returns the replica's mean loss on the last stage's ranks, NaN elsewhere.
     * After it the FSDP shards hold the gradients, averaged over "dp".
     */
    public double step(List<Tensor> inputs, List<Tensor> targets) { return runner.step(inputs, targets); }

    /** This rank's FSDP shards of its stages' tensor-parallel pieces: give these to the optimizer. */
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>();
        for (FullyShardedDataParallel f : fsdp.values()) out.addAll(f.parameters());
        return out;
    }

    /** The runner (timeline, peak in-flight micro-batches). */
    public PipelineRunner runner() { return runner; }

    /** The FSDP wrapper of each of this rank's stages, by stage. */
    public Map<Integer, FullyShardedDataParallel> stages() { return Map.copyOf(fsdp); }

    /**
     * This rank's stages' parameters and buffers under the single-process model's names and shapes: gathered
     * over "dp" (FSDP) and "tp". A collective over both: every rank calls it.
     */
    public Map<String, Tensor> fullStateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (FullyShardedDataParallel f : fsdp.values()) {
            Map<String, Tensor> pieces = f.fullStateDict();
            out.putAll(tp.size() > 1 ? TensorParallel.fullStateDict(pieces, f.module(), tp) : pieces);
        }
        return out;
    }

    /** Closes the runner's transfer groups (not the mesh's groups). */
    @Override public void close() { runner.close(); }
}
