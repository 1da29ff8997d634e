package dev.fluxion.examples;

import dev.fluxion.nn.Embedding;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.io.CheckpointDir;
import dev.fluxion.nn.io.TrainingCheckpoint;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.Clipping;
import dev.fluxion.parallel.Distributed;
import dev.fluxion.parallel.DistributedDataParallel;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.Straggler;
import dev.fluxion.parallel.localsgd.DiLoCo;
import dev.fluxion.parallel.ps.Consistency;
import dev.fluxion.parallel.ps.ParameterServer;
import dev.fluxion.parallel.ps.ParameterServerClient;
import dev.fluxion.parallel.ps.ParameterServers;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * CharGpt for a job with a slow rank: data-parallel (DDP, which waits for the slowest rank at every step), a
 * parameter server with BSP, SSP or ASP ({@code --ps}, {@code --staleness S}, {@code --asp}), or DiLoCo
 * ({@code --diloco H}); {@code --slow-rank 2:3x} makes rank 2 three times slower, {@code --time-limit SECONDS}
 * stops every rank after that long (agreed between ranks where the mode synchronises them). Rank 0 writes
 * trace.csv (wall seconds, step, bytes through rank 0, validation loss) for the straggler harness in bench/.
 *
 * <pre>
 *   bin/fluxrun --nproc-per-node 4 dev.fluxion.examples.CharGpt --ps --staleness 3 --slow-rank 2:3x
 *   bin/fluxrun --nproc-per-node 4 dev.fluxion.examples.CharGpt --diloco 50 --slow-rank 2:3x
 * </pre>
 *
 * The learning rate is constant here (no warmup or cosine: the parameter servers step on their own). In SSP and
 * ASP each push is one server step, so the servers' AdamW runs at lr / ranks. Checkpoints: the parameter
 * servers save their shards under OUT/ps/shard-R (and resume from them with --resume); rank 0 saves the model
 * (and DiLoCo's outer state, at synchronisations) as OUT/checkpoint.safetensors. DiLoCo's inner AdamW states
 * are each rank's own and are not saved: a resumed DiLoCo run starts them afresh.
 */
final class StragglerTraining {
    private StragglerTraining() {}

    /** This mode's flags, taken out of CharGpt's arguments before CharGpt parses the rest. */
    record Flags(boolean ps, Consistency consistency, int diloco, Straggler slow, double timeLimit, String[] rest) {
        static Flags extract(String[] args) {
            List<String> rest = new ArrayList<>();
            boolean ps = false, asp = false;
            int staleness = -1, diloco = 0;
            String slow = "";
            double limit = 0;
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--ps" -> ps = true;
                    case "--asp" -> { ps = true; asp = true; }
                    case "--staleness" -> { ps = true; staleness = Integer.parseInt(value(args, ++i, a)); }
                    case "--diloco" -> diloco = Integer.parseInt(value(args, ++i, a));
                    case "--slow-rank" -> slow = value(args, ++i, a);
                    case "--time-limit" -> limit = Double.parseDouble(value(args, ++i, a));
                    default -> rest.add(a);
                }
            }
            if (ps && diloco > 0) throw new IllegalArgumentException("CharGpt: --ps and --diloco are two different modes; pick one");
            if (asp && staleness >= 0) throw new IllegalArgumentException("CharGpt: --asp has no staleness bound; drop --staleness " + staleness);
            Consistency c = !ps ? null : asp ? Consistency.asp() : staleness >= 0 ? Consistency.ssp(staleness) : Consistency.bsp();
            return new Flags(ps, c, diloco, Straggler.parse(slow), limit, rest.toArray(String[]::new));
        }

        private static String value(String[] args, int i, String flag) {
            if (i >= args.length) throw new IllegalArgumentException("CharGpt: option " + flag + " needs a value");
            return args[i];
        }

        /** True when any of these flags was given: CharGpt then runs this class's loop. */
        boolean active() { return ps || diloco > 0 || !slow.factors().isEmpty() || timeLimit > 0; }

        String mode() { return ps ? "ps " + consistency : diloco > 0 ? "DiLoCo H=" + diloco : "DDP"; }
    }

    static void run(CharGpt.Options o, Flags f) throws IOException {
        if (!Distributed.isDistributed() && (f.ps() || f.diloco() > 0))
            throw new IllegalArgumentException("CharGpt: " + f.mode() + " needs several ranks: start it with bin/fluxrun --nproc-per-node N");
        ProcessGroup pg = Distributed.isDistributed() ? Distributed.initFromEnv() : null;
        int rank = pg == null ? 0 : pg.rank(), world = pg == null ? 1 : pg.size();
        boolean lead = rank == 0;
        byte[] text = CharGpt.Corpus.read(o.data());
        var train = CharGpt.Corpus.train(text);
        var val = CharGpt.Corpus.validation(text);
        var config = o.modelConfig();
        Init init = Init.seed(o.seed());
        Gpt model = new Gpt(config, init);
        if (rank > 0) init.generator().setState(new Generator(o.seed() + 7919L * rank).state());
        var adamw = o.adamw();
        Files.createDirectories(o.out());
        if (lead) System.out.printf("model: %,d parameters, %s, %d ranks, %s, slow ranks %s%n", model.parameterCount(), config, world, f.mode(), f.slow());

        Engine engine = f.ps() ? new PsEngine(model, pg, f, o, adamw) : f.diloco() > 0 ? new DiLoCoEngine(model, pg, f, o, adamw) : new DdpEngine(model, pg, adamw);
        long start = engine.start();
        Generator dataRng = new Generator(o.seed() + 1 + 1_000_003L * rank + 7L * start);   // each rank its own batches
        PrintWriter trace = lead ? new PrintWriter(Files.newBufferedWriter(o.out().resolve("trace.csv"))) : null;
        if (lead) trace.println("wall_s,step,bytes,val_loss");
        // the clock starts after the first step (which loads and compiles the code: tens of seconds on a busy
        // machine, the same for every mode) and pauses while rank 0 evaluates
        long t0 = System.nanoTime(), paused = 0;
        long step = start;
        while (step < o.steps()) {
            long s0 = System.nanoTime();
            double loss;
            try (var scope = Scope.open()) {
                engine.beforeStep();
                Tensor[] batch = train.batch(dataRng, o.batch(), o.context());
                Tensor lossT = Losses.crossEntropy(engine.module().forward(batch[0]), batch[1]);
                for (Tensor p : model.parameters()) p.setGrad(null);
                lossT.backward();
                Clipping.clipGradNorm(model.parameters(), 1.0);
                engine.afterBackward();
                loss = lossT.item();
            }
            f.slow().pace(rank, System.nanoTime() - s0);
            step++;
            if (step == start + 1) t0 = System.nanoTime();
            double wall = (System.nanoTime() - t0 - paused) / 1e9;
            boolean last = step == o.steps();
            if (lead && (step % o.evalEvery() == 0 || last || step == start + 1)) {
                long e0 = System.nanoTime();
                double v = CharGpt.evaluate(model, val, o, new Generator(o.seed() + 2));
                paused += System.nanoTime() - e0;
                trace.printf(Locale.ROOT, "%.3f,%d,%d,%.5f%n", wall, step, engine.bytes(), v);
                trace.flush();
                System.out.printf(Locale.ROOT, "step %5d  %6.1f s  loss %.4f  val %.4f  %.1f MB through rank 0%n", step, wall, loss, v, engine.bytes() / 1e6);
            }
            engine.checkpoint(o.out(), step, lead, step % o.checkpointEvery() == 0);
            if (engine.shouldStop(f.timeLimit() > 0 && wall > f.timeLimit())) break;
        }
        engine.finish(o.out(), step, lead);
        if (lead) {
            trace.close();
            System.out.printf("%s: stopped at step %d after %.1f s; wrote %s and %s%n", f.mode(), step, (System.nanoTime() - t0 - paused) / 1e9,
                    o.out().resolve("trace.csv"), o.out().resolve(CheckpointDir.LATEST));
        }
        if (pg != null) pg.close();
    }

    /** What differs between the modes. */
    interface Engine {
        /** The step training starts at (after resuming). */
        long start() throws IOException;
        /** The module the loss is computed with. */
        Module module();
        void beforeStep();
        /** Gradients are in the model's parameters (clipped): update. */
        void afterBackward();
        /** Bytes sent and received by this rank so far. */
        long bytes();
        /** Whether every rank stops now, given whether this one's time is up (agreed where the mode synchronises ranks). */
        boolean shouldStop(boolean timeUp);
        /** Called after every step; due: a checkpoint is due (a mode may save it later, at a better point). */
        void checkpoint(Path out, long step, boolean lead, boolean due);
        void finish(Path out, long step, boolean lead) throws IOException;
    }

    static void saveModel(Path out, Gpt model, long step, Map<String, Tensor> extra, String mode) {
        Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>();
        sections.put("model", model.stateDict());
        if (extra != null) sections.put("diloco", extra);
        try {
            CheckpointDir.save(out, new TrainingCheckpoint(step, sections, Map.of("model", model.config().toString(), "mode", mode)));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("saving checkpoint at step " + step, e);
        }
    }

    /** Rank 0's decision, broadcast: the ranks of a synchronous mode must stop at the same step. */
    static boolean agree(ProcessGroup pg, boolean mine) {
        if (pg == null) return mine;
        Tensor flag = Tensor.of(new float[] {mine ? 1 : 0}, 1);
        pg.broadcast(flag, 0).waitFor();
        return flag.toFloatArray()[0] != 0;
    }

    /** The baseline: gradients all-reduced at every step, AdamW on every rank. */
    static final class DdpEngine implements Engine {
        private final Gpt model;
        private final ProcessGroup pg;
        private final Module trained;
        private final AdamW opt;
        private final long stepBytes;
        private long bytes;

        DdpEngine(Gpt model, ProcessGroup pg, AdamW.Config adamw) {
            this.model = model;
            this.pg = pg;
            this.trained = pg == null ? model : new DistributedDataParallel(model, pg);
            this.opt = new AdamW(model.parameters(), adamw);
            int n = pg == null ? 1 : pg.size();
            // ring all-reduce: 2 (n-1)/n of the gradient bytes leave each rank, as many arrive
            this.stepBytes = 2 * (2L * (n - 1) * model.parameterCount() * 4 / n);
        }

        @Override public long start() { return 0; }
        @Override public Module module() { return trained; }
        @Override public void beforeStep() {}
        @Override public void afterBackward() { opt.step(); bytes += stepBytes; }
        @Override public long bytes() { return bytes; }
        @Override public boolean shouldStop(boolean timeUp) { return agree(pg, timeUp); }
        @Override public void checkpoint(Path out, long step, boolean lead, boolean due) { if (lead && due) saveModel(out, model, step, null, "ddp"); }
        @Override public void finish(Path out, long step, boolean lead) { checkpoint(out, step, lead, true); }
    }

    /** Every rank a worker and a server of one shard; AdamW on the servers. */
    static final class PsEngine implements Engine {
        private final Gpt model;
        private final ProcessGroup pg;
        private final Flags flags;
        private final ParameterServers.Job job;
        private final ParameterServerClient client;

        PsEngine(Gpt model, ProcessGroup pg, Flags f, CharGpt.Options o, AdamW.Config adamw) throws IOException {
            this.model = model;
            this.pg = pg;
            this.flags = f;
            Duration timeout = Distributed.Env.fromSystem().timeout();
            var server = adamw.withLr(f.consistency().elastic() ? o.lr() / pg.size() : o.lr());
            var config = ParameterServer.Config.of(f.consistency(), pg.size()).withTimeouts(timeout, timeout)
                    .withCheckpoints(o.out().resolve("ps"), f.consistency().elastic() ? o.checkpointEvery() * pg.size() : o.checkpointEvery());
            if (!o.resume()) {
                // one rank clears the old shards (all of them deleting one tree raced: a rank whose walk listed a file
                // another had just deleted died of NoSuchFileException), and no shard starts writing before it is done
                if (pg.rank() == 0) deleteShardCheckpoints(o.out().resolve("ps"));
                pg.barrier().waitFor();
            }
            String host = System.getenv().getOrDefault("FLUXION_PS_HOST", "127.0.0.1");
            this.job = ParameterServers.launch(pg, host, model.parameters(), ps -> new AdamW(ps, server), config);
            this.client = job.connect(pg.rank(), model.parameters(), timeout);
            if (model.tokens() instanceof Embedding e) client.sparse(e.weight());   // only the rows of the bytes in the batch travel
        }

        private static void deleteShardCheckpoints(Path dir) throws IOException {
            if (!Files.isDirectory(dir)) return;
            try (var walk = Files.walk(dir)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
            }
        }

        @Override public long start() { return client.clock(); }
        @Override public Module module() { return model; }
        @Override public void beforeStep() { client.pull(); }
        @Override public void afterBackward() { client.push(); }
        @Override public long bytes() { return client.bytesSent() + client.bytesReceived(); }

        @Override public boolean shouldStop(boolean timeUp) {
            // BSP ranks move in lockstep and must stop together; SSP/ASP ones may stop on their own
            return flags.consistency().elastic() ? timeUp : agree(pg, timeUp);
        }

        @Override public void checkpoint(Path out, long step, boolean lead, boolean due) {
            if (lead && due) saveModel(out, model, step, null, "ps");   // the servers save their shards themselves
        }

        @Override public void finish(Path out, long step, boolean lead) throws IOException {
            boolean bsp = !flags.consistency().elastic();
            if (bsp && lead) client.pull();         // BSP: waits for every rank's last gradient
            client.close();                         // SSP/ASP: leaving, so that nobody waits for this worker any more
            pg.barrier().waitFor();                 // every worker is done: the final values are on the servers
            if (lead) {
                if (!bsp) {
                    try (var reader = job.connect(pg.size(), model.parameters(), Distributed.Env.fromSystem().timeout())) {
                        reader.pull();              // a newcomer (SSP/ASP admit one) reads the final values
                    }
                }
                saveModel(out, model, step, null, "ps");
            }
            pg.barrier().waitFor();                 // keep every shard up until rank 0 has read it
            job.local().checkpoint();
            job.close();
        }
    }

    /** H local AdamW steps, then the outer Nesterov step on the averaged deltas. */
    static final class DiLoCoEngine implements Engine {
        private final Gpt model;
        private final ProcessGroup pg;
        private final AdamW inner;
        private final DiLoCo diloco;
        private final CharGpt.Options options;
        private boolean synced, pending;

        DiLoCoEngine(Gpt model, ProcessGroup pg, Flags f, CharGpt.Options o, AdamW.Config adamw) {
            this.model = model;
            this.pg = pg;
            this.options = o;
            this.inner = new AdamW(model.parameters(), adamw);
            this.diloco = new DiLoCo(model.parameters(), pg, DiLoCo.Config.DEFAULT.withLocalSteps(f.diloco()));
        }

        @Override public long start() throws IOException {
            if (!options.resume()) return 0;
            var latest = CheckpointDir.loadLatest(options.out());
            if (latest.isEmpty() || latest.get().section("diloco").isEmpty()) return 0;
            model.loadStateDict(latest.get().section("model"));
            diloco.loadStateDict(latest.get().section("diloco"));
            return latest.get().step();
        }

        @Override public Module module() { return model; }
        @Override public void beforeStep() {}
        @Override public void afterBackward() { inner.step(); synced = diloco.afterInnerStep(); }
        @Override public long bytes() { return 2 * diloco.bytesSent(); }
        @Override public boolean shouldStop(boolean timeUp) { return synced && agree(pg, timeUp); }   // ranks meet only at synchronisations

        @Override public void checkpoint(Path out, long step, boolean lead, boolean due) {
            pending |= due;                       // saved at a synchronisation, where the ranks agree on the model
            if (pending && synced) {
                if (lead) saveModel(out, model, step, diloco.stateDict(), "diloco");
                pending = false;
            }
        }

        @Override public void finish(Path out, long step, boolean lead) {
            if (!synced) diloco.synchronize();   // the steps ran out between synchronisations: average what is there
            if (lead) saveModel(out, model, step, diloco.stateDict(), "diloco");
        }
    }
}
