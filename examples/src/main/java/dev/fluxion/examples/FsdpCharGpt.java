package dev.fluxion.examples;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.io.Safetensors;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.LrScheduler;
import dev.fluxion.parallel.Distributed;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.fsdp.FsdpCheckpoint;
import dev.fluxion.parallel.fsdp.FsdpConfig;
import dev.fluxion.parallel.fsdp.FullyShardedDataParallel;
import dev.fluxion.parallel.fsdp.WrapPolicy;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CharGpt's training loop under fully sharded data parallelism ({@code CharGpt --fsdp}, started by
 * {@code bin/fluxrun}): one FSDP unit per transformer block, AdamW on the local shards, clipping by the global
 * norm, a sharded checkpoint in {@code <out>/fsdp/step-N/} every --checkpoint-every steps, and --resume on any
 * number of ranks (the checkpoint reshards). At the end the whole model is exported to
 * {@code <out>/fsdp-model.safetensors} and rank 0 samples from it in a single-process Gpt.
 *
 * <pre>
 * bin/fluxrun --nproc-per-node 4 dev.fluxion.examples.CharGpt --fsdp --steps 200 --stop-after 100
 * bin/fluxrun --nproc-per-node 2 dev.fluxion.examples.CharGpt --fsdp --steps 200 --resume
 * </pre>
 */
final class FsdpCharGpt {
    private FsdpCharGpt() {}

    static void run(CharGpt.Options o) throws IOException {
        if (!Distributed.isDistributed())
            throw new IllegalArgumentException("CharGpt --fsdp: start it with bin/fluxrun --nproc-per-node N (N >= 2)");
        ProcessGroup pg = Distributed.initFromEnv();
        int rank = pg.rank(), world = pg.size();
        boolean lead = rank == 0;
        byte[] text = CharGpt.Corpus.read(o.data());
        var train = CharGpt.Corpus.train(text);
        var val = CharGpt.Corpus.validation(text);

        var config = o.modelConfig();
        Gpt model = new Gpt(config, Init.seed(o.seed()));
        var fsdp = FullyShardedDataParallel.fullyShard(model, pg, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT);
        var opt = new AdamW(fsdp.parameters(), o.adamw());
        var schedule = o.schedule(opt);
        if (lead) System.out.printf("model: %,d parameters, %s, %d ranks (FSDP %s, %d units, %,d shard bytes per rank)%n", model.parameterCount(), config,
                world, fsdp.config().strategy(), fsdp.unitPaths().size(), fsdp.shardBytes());

        Path ckpt = o.out().resolve("fsdp");
        Files.createDirectories(ckpt);
        long start = o.resume() ? resume(ckpt, fsdp, opt, schedule, lead) : 0;
        // batches depend on (seed, rank, first step): a resumed run on another number of ranks draws fresh, reproducible ones
        Generator dataRng = new Generator(o.seed() + 1 + 1_000_003L * rank + 7919L * start);
        var progress = new Progress(start, o.steps(), (long) o.batch() * o.context() * world);
        for (long step = start; step < o.steps(); step++) {
            double loss;
            try (var scope = Scope.open()) {
                Tensor[] batch = train.batch(dataRng, o.batch(), o.context());
                Tensor lossT = Losses.crossEntropy(model.forward(batch[0]), batch[1]);
                opt.zeroGrad();
                lossT.backward();                // gathers each block, reduce-scatters its gradients
                fsdp.clipGradNorm(1.0);
                opt.step();                      // the local shards only
                schedule.step();
                loss = lossT.item();
            }
            boolean last = step + 1 == o.steps() || step + 1 == o.stopAfter();
            double valLoss = Double.NaN;
            if ((step + 1) % o.evalEvery() == 0 || last) valLoss = CharGpt.evaluate(model, val, o, new Generator(o.seed() + 2));   // every rank: a collective
            if (lead) progress.update(step + 1, loss, valLoss);
            if ((step + 1) % o.checkpointEvery() == 0 || last) {
                Path saved = FsdpCheckpoint.save(ckpt, step + 1, fsdp, opt);
                if (lead) System.out.println("checkpoint: " + saved);
            }
            if (step + 1 == o.stopAfter()) {
                if (lead) System.out.println("stopping after step " + (step + 1) + " as asked; continue with --resume (on any number of ranks)");
                pg.close();
                return;
            }
        }
        Path full = o.out().resolve("fsdp-model.safetensors");
        FsdpCheckpoint.exportFull(full, fsdp);
        pg.close();
        if (!lead) return;
        System.out.println("wrote " + full);
        Gpt single = new Gpt(config, Init.seed(o.seed()));
        try (var off = Autodiff.noGrad()) {
            single.loadStateDict(Safetensors.load(full));
        }
        System.out.println("---- sample ----");
        System.out.println(CharGpt.sample(single, o.prompt(), o.sample(), config.context(), new Generator(o.seed() + 3)));
    }

    /**
     * Loads the latest FSDP checkpoint in ckpt (a collective: every rank calls it) and advances the schedule
     * to its step; returns that step, or 0 when there is none.
     */
    static long resume(Path ckpt, FullyShardedDataParallel fsdp, AdamW opt, LrScheduler schedule, boolean lead) throws IOException {
        var step = FsdpCheckpoint.loadLatest(ckpt, fsdp, opt);
        if (step.isEmpty()) {
            if (lead) System.out.println("no checkpoint in " + ckpt + ": starting fresh");
            return 0;
        }
        long start = step.get();
        for (long s = 0; s < start; s++) schedule.step();   // the schedule is a function of the step
        if (lead) System.out.printf("resumed from %s at step %d, sharded over %d ranks%n", FsdpCheckpoint.latest(ckpt).orElseThrow(), start, fsdp.shardGroup().size());
        return start;
    }
}
