package dev.fluxion.parallel.fsdp;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.io.Safetensors;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static dev.fluxion.parallel.fsdp.FsdpHarness.*;
import static org.junit.jupiter.api.Assertions.*;

/** Sharded checkpoints: N ranks save, M ranks load (parameters and AdamW state), a consolidated export. */
class FsdpCheckpointTest {
    static final Duration TIMEOUT = Duration.ofSeconds(30);
    static final int GLOBAL = 4;   // ranks' worth of rows in every global batch, whatever the number of ranks training on it

    /** Steps [from, to) of training on this rank's part of each global batch. */
    static void train(FullyShardedDataParallel fsdp, AdamW opt, int rank, int ranks, int from, int to) {
        for (int step = from; step < to; step++) {
            try (var s = Scope.open()) {
                Tensor[] b = part(batch(step, GLOBAL), rank, ranks);
                Tensor loss = Losses.crossEntropy(fsdp.module().forward(b[0]), b[1]);
                opt.zeroGrad();
                loss.backward();
                opt.step();
            }
        }
    }

    /** n ranks: load dir's latest checkpoint if any, train [from, to), save at to into out. */
    static void run(int n, Path in, Path out, int from, int to) throws Exception {
        LocalCluster.run(n, TIMEOUT, pg -> {
            var fsdp = FullyShardedDataParallel.fullyShard(model(), pg, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT);
            AdamW opt = new AdamW(fsdp.parameters(), ADAMW);
            if (in != null) assertEquals(from, FsdpCheckpoint.loadLatest(in, fsdp, opt).orElseThrow());
            train(fsdp, opt, pg.rank(), n, from, to);
            FsdpCheckpoint.save(out, to, fsdp, opt);
            return null;
        });
    }

    @ParameterizedTest(name = "{0} -> {1} ranks")
    @CsvSource({"4, 2", "2, 3", "4, 1"})
    void aCheckpointSavedWithNRanksLoadsWithMAndSavesTheSameTensors(int n, int m, @TempDir Path dir) throws Exception {
        run(n, null, dir.resolve("a"), 0, 2);
        run(m, dir.resolve("a"), dir.resolve("b"), 2, 2);   // load, no step, save again
        Path a = FsdpCheckpoint.latest(dir.resolve("a")).orElseThrow(), b = FsdpCheckpoint.latest(dir.resolve("b")).orElseThrow();
        assertTrue(Files.exists(a.resolve(FsdpCheckpoint.shardFile(n - 1, n))) && Files.exists(b.resolve(FsdpCheckpoint.shardFile(m - 1, m))));
        Map<String, Tensor> before = FsdpCheckpoint.readFull(a), after = FsdpCheckpoint.readFull(b);
        assertEquals(before.keySet(), after.keySet());
        assertTrue(before.containsKey("optim.blocks.0.mlp.0.weight.exp_avg_sq"), "optimizer moments: " + before.keySet());
        for (String k : before.keySet())
            assertArrayEquals(before.get(k).toDoubleArray(), after.get(k).toDoubleArray(), k + " is reproduced exactly");
    }

    @Test void trainingContinuesOnFewerRanksAsIfNeverInterruptedAndExportsForOneProcess(@TempDir Path dir) throws Exception {
        Map<String, float[]> want = singleProcess(GLOBAL, 6);
        run(4, null, dir.resolve("ckpt"), 0, 3);
        List<Map<String, float[]>> got = LocalCluster.run(2, TIMEOUT, pg -> {
            var fsdp = FullyShardedDataParallel.fullyShard(model(), pg, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT);
            AdamW opt = new AdamW(fsdp.parameters(), ADAMW);
            assertEquals(3L, FsdpCheckpoint.loadLatest(dir.resolve("ckpt"), fsdp, opt).orElseThrow());
            train(fsdp, opt, pg.rank(), 2, 3, 6);
            FsdpCheckpoint.exportFull(dir.resolve("full.safetensors"), fsdp);
            return values(fsdp.fullStateDict());
        });
        for (int r = 0; r < 2; r++) assertClose(want, got.get(r), 1e-5, "rank " + r);
        Gpt single = model();
        single.loadStateDict(Safetensors.load(dir.resolve("full.safetensors")));
        assertClose(want, values(single.stateDict()), 1e-5, "the exported file in a single-process model");
    }

    @Test void aDamagedShardIsRefusedByName(@TempDir Path dir) throws Exception {
        run(2, null, dir, 0, 1);
        Path step = FsdpCheckpoint.latest(dir).orElseThrow();
        Path shard = step.resolve(FsdpCheckpoint.shardFile(1, 2));
        byte[] bytes = Files.readAllBytes(shard);
        bytes[bytes.length - 1] ^= 1;
        Files.write(shard, bytes, StandardOpenOption.TRUNCATE_EXISTING);
        var e = assertThrows(IOException.class, () -> FsdpCheckpoint.readFull(step));
        assertTrue(e.getMessage().contains("shard-1-of-2.safetensors") && e.getMessage().contains("SHA-256"), e.getMessage());
    }

    @Test void aStepWithoutMetadataIsIncompleteAndIgnored(@TempDir Path dir) throws Exception {
        run(2, null, dir, 0, 1);
        Path older = FsdpCheckpoint.latest(dir).orElseThrow();
        Files.createDirectories(dir.resolve("step-000000009"));
        Files.writeString(dir.resolve("step-000000009").resolve(FsdpCheckpoint.shardFile(0, 2)), "partial");
        assertEquals(older, FsdpCheckpoint.latest(dir).orElseThrow());
    }
}
