package dev.fluxion.examples;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.io.Safetensors;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.DeviceMesh;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.fsdp.FsdpCheckpoint;
import dev.fluxion.parallel.fsdp.FsdpConfig;
import dev.fluxion.parallel.fsdp.FullyShardedDataParallel;
import dev.fluxion.parallel.fsdp.WrapPolicy;
import dev.fluxion.parallel.tensor.TensorParallel;
import dev.fluxion.parallel.tensor.TpTraining;
import dev.fluxion.parallel.tensor.VocabParallelCrossEntropy;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * CharGpt's 2-D mode ({@code --tp N --fsdp}): on the ("dp", "tp") mesh each "tp" group splits the model as
 * {@link TensorParallelCharGpt} does, and FSDP shards each rank's tensor-parallel pieces further over "dp"
 * (one unit per block), in place of DDP. Clipping is by the global norm of the whole model.
 *
 * <p>Checkpoints: every --checkpoint-every steps, each tp coordinate k writes an FSDP sharded checkpoint
 * (its pieces and their AdamW state) to {@code <out>/fsdp-tp/tp<k>/step-N/}; --resume reloads them with the
 * same --tp and any number of "dp" ranks. At the end the whole model is written in single-process form
 * ({@link TensorParallel#fullStateDict(FullyShardedDataParallel, ProcessGroup)}) to
 * {@code <out>/fsdp-tp-model.safetensors}, which a plain {@code Gpt} loads; rank 0 samples from it.
 *
 * <pre>
 *   bin/fluxrun --nproc-per-node 4 dev.fluxion.examples.CharGpt --tp 2 --fsdp --steps 200
 * </pre>
 */
final class FsdpTensorParallelCharGpt {
    private FsdpTensorParallelCharGpt() {}

    static void run(CharGpt.Options o, ProcessGroup world, int tpSize, boolean sp) throws IOException {
        DeviceMesh mesh = TensorParallelCharGpt.mesh(world, tpSize);
        ProcessGroup tp = mesh.group("tp");
        int dpRank = mesh.coordinate("dp"), tpRank = mesh.coordinate("tp");
        boolean lead = world.rank() == 0;

        byte[] text = CharGpt.Corpus.read(o.data());
        var train = CharGpt.Corpus.train(text);
        var val = CharGpt.Corpus.validation(text);
        var config = o.modelConfig();
        Init init = Init.seed(o.seed());
        Gpt model = new Gpt(config, init);
        long fullCount = model.parameterCount();
        TensorParallelCharGpt.makeTensorParallel(model, init, tp, sp);
        var fsdp = FullyShardedDataParallel.fullyShard(model, mesh, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT);   // shards over "dp"
        var opt = new AdamW(fsdp.parameters(), o.adamw());
        var schedule = o.schedule(opt);
        if (lead) System.out.printf("model: %,d parameters, %s, %s%s, FSDP over dp (%d units, %,d shard bytes per rank)%n", fullCount, config, mesh,
                sp ? ", sequence parallel" : "", fsdp.unitPaths().size(), fsdp.shardBytes());

        Path ckpt = o.out().resolve("fsdp-tp").resolve("tp" + tpRank);
        Files.createDirectories(ckpt);
        long start = o.resume() ? FsdpCharGpt.resume(ckpt, fsdp, opt, schedule, lead) : 0;
        // the tp ranks of one dp group share batches and dropout masks; dp groups (and resumed runs) draw their own
        if (dpRank > 0 || start > 0) init.generator().setState(new Generator(o.seed() + 7919L * dpRank + 104_729L * start).state());
        Generator dataRng = new Generator(o.seed() + 1 + 1_000_003L * dpRank + 7919L * start);
        var progress = new Progress(start, o.steps(), (long) o.batch() * o.context() * mesh.size("dp"));
        for (long step = start; step < o.steps(); step++) {
            double loss;
            try (var scope = Scope.open()) {
                Tensor[] batch = train.batch(dataRng, o.batch(), o.context());
                Tensor lossT = VocabParallelCrossEntropy.apply(model.forward(batch[0]), batch[1], tp);   // logits (B, T, 256/tp)
                opt.zeroGrad();
                lossT.backward();                          // FSDP gathers each block over dp and reduce-scatters its gradients
                TpTraining.clipGradNorm(fsdp, 1.0, tp);
                opt.step();                                // the local shards of the local pieces
                schedule.step();
                loss = lossT.item();
            }
            boolean last = step + 1 == o.steps() || step + 1 == o.stopAfter();
            double valLoss = Double.NaN;
            if ((step + 1) % o.evalEvery() == 0 || last) valLoss = TensorParallelCharGpt.evaluate(model, val, o, tp);   // every rank: collectives
            if (lead) progress.update(step + 1, loss, valLoss);
            if ((step + 1) % o.checkpointEvery() == 0 || last) {
                Path saved = FsdpCheckpoint.save(ckpt, step + 1, fsdp, opt);
                if (lead) System.out.println("checkpoint: " + saved.getParent().getParent().resolve("tp*").resolve(saved.getFileName()));
            }
            if (step + 1 == o.stopAfter()) {
                if (lead) System.out.println("stopping after step " + (step + 1) + " as asked; continue with --resume (same --tp, any dp)");
                world.close();
                return;
            }
        }
        Map<String, Tensor> full = TensorParallel.fullStateDict(fsdp, tp);   // every rank: gathers over dp, then over tp
        Path file = o.out().resolve("fsdp-tp-model.safetensors");
        if (lead) {
            Map<String, Tensor> unique = new LinkedHashMap<>();
            for (var e : full.entrySet()) unique.put(e.getKey(), e.getValue().contiguous().copy());   // tied names get their own copies
            Safetensors.save(file, unique, Map.of("format", "pt"));
        }
        world.close();
        if (!lead) return;
        System.out.println("wrote " + file);
        Gpt single = new Gpt(config, Init.seed(o.seed()));
        try (var off = Autodiff.noGrad()) {
            single.loadStateDict(Safetensors.load(file));
        }
        System.out.println("---- sample (single-process Gpt from " + file.getFileName() + ") ----");
        System.out.println(CharGpt.sample(single, o.prompt(), o.sample(), config.context(), new Generator(o.seed() + 3)));
    }
}
