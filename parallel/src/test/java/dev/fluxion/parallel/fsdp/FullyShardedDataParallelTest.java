package dev.fluxion.parallel.fsdp;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Losses;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.parallel.DeviceMesh;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static dev.fluxion.parallel.fsdp.FsdpHarness.*;
import static org.junit.jupiter.api.Assertions.*;

/** FULL_SHARD on 2 and 4 thread-ranks against one process training on the concatenated batch. */
class FullyShardedDataParallelTest {
    static final Duration TIMEOUT = Duration.ofSeconds(30);
    static final int STEPS = 20;

    /** Trains an FSDP-wrapped Gpt for steps on this rank's part of each batch; returns the full state dict. */
    static Map<String, float[]> train(FullyShardedDataParallel fsdp, int replica, int replicas, int steps) {
        AdamW opt = new AdamW(fsdp.parameters(), ADAMW);
        for (int step = 0; step < steps; step++) {
            try (var s = Scope.open()) {
                Tensor[] b = part(batch(step, replicas), replica, replicas);
                Tensor loss = Losses.crossEntropy(fsdp.module().forward(b[0]), b[1]);
                opt.zeroGrad();
                loss.backward();
                opt.step();
            }
        }
        return values(fsdp.fullStateDict());
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 4})
    void fullShardEqualsSingleProcessTraining(int n) throws Exception {
        Map<String, float[]> want = singleProcess(n, STEPS);
        List<Map<String, float[]>> got = LocalCluster.run(n, TIMEOUT, pg -> {
            Gpt model = model();
            var fsdp = FullyShardedDataParallel.fullyShard(model, pg, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT);
            assertEquals(List.of("", "blocks.0", "blocks.1"), fsdp.unitPaths());
            long full = model.parameterCount() * 8;   // float64
            assertTrue(fsdp.shardBytes() <= full / n + 8L * 16 * 16 * n, "shard bytes " + fsdp.shardBytes() + " of " + full);
            return train(fsdp, pg.rank(), n, STEPS);
        });
        for (int r = 0; r < n; r++) assertClose(want, got.get(r), 1e-5, "rank " + r);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = ShardingStrategy.class, names = {"SHARD_GRAD_OP", "NO_SHARD"})
    void otherStrategiesEqualSingleProcessTrainingOn2And4Ranks(ShardingStrategy strategy) throws Exception {
        for (int n : new int[] {2, 4}) {
            Map<String, float[]> want = singleProcess(n, STEPS);
            List<Map<String, float[]>> got = LocalCluster.run(n, TIMEOUT, pg -> {
                var fsdp = FullyShardedDataParallel.fullyShard(model(), pg, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT.withStrategy(strategy));
                return train(fsdp, pg.rank(), n, STEPS);
            });
            for (int r = 0; r < n; r++) assertClose(want, got.get(r), 1e-5, strategy + ", " + n + " ranks, rank " + r);
        }
    }

    @ParameterizedTest(name = "replicate {0} x shard {1}")
    @CsvSource({"2, 2", "2, 1", "1, 2"})
    void hybridShardsWithinAndReplicatesAcrossTheMesh(int replicas, int shards) throws Exception {
        int n = replicas * shards;
        Map<String, float[]> want = singleProcess(n, STEPS);
        List<Map<String, float[]>> got = LocalCluster.run(n, TIMEOUT, pg -> {
            DeviceMesh mesh = DeviceMesh.of(pg, new String[] {"replicate", "shard"}, new int[] {replicas, shards});
            var fsdp = FullyShardedDataParallel.fullyShard(model(), mesh, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT.withStrategy(ShardingStrategy.HYBRID_SHARD));
            assertEquals(fsdp.module().parameterCount() * 8 / shards, fsdp.shardBytes(), 8L * 16 * 4, "1/shards of the parameters per rank");
            return train(fsdp, pg.rank(), n, STEPS);   // every rank has its own part of the batch
        });
        for (int r = 0; r < n; r++) assertClose(want, got.get(r), 1e-5, "HYBRID_SHARD " + replicas + "x" + shards + " rank " + r);
    }

    @Test void fullShardFreesAfterForwardAndBackwardAndPrefetchesTheNextUnit() throws Exception {
        LocalCluster.run(2, TIMEOUT, pg -> {
            for (ShardingStrategy s : new ShardingStrategy[] {ShardingStrategy.FULL_SHARD, ShardingStrategy.SHARD_GRAD_OP}) {
                var fsdp = FullyShardedDataParallel.fullyShard(model(), pg, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT.withStrategy(s));
                assertFalse(fsdp.isGathered("blocks.0"), "sharded after wrapping");
                for (int step = 0; step < 2; step++) {
                    try (var scope = Scope.open()) {
                        Tensor[] b = part(batch(step, 2), pg.rank(), 2);
                        Tensor loss = Losses.crossEntropy(fsdp.module().forward(b[0]), b[1]);
                        boolean kept = s == ShardingStrategy.SHARD_GRAD_OP;
                        assertEquals(kept, fsdp.isGathered("blocks.0"), s + ": block 0 after forward");
                        assertEquals(kept, fsdp.isGathered("blocks.1"), s + ": block 1 after forward");
                        assertTrue(fsdp.isGathered(""), "the root stays gathered until backward");
                        loss.backward();
                        for (String u : fsdp.unitPaths()) assertFalse(fsdp.isGathered(u), s + ": " + u + " after backward");
                        for (var p : fsdp.parameters()) assertNotNull(p.grad(), "every shard has its gradient after backward");
                    }
                }
                // each backward: the root's pre-backward prefetches block 1, block 1's prefetches block 0 (FULL_SHARD only: SHARD_GRAD_OP
                // kept them); from step 1 the forward prefetches block 0 from the root and block 1 from block 0 (the previous forward's order)
                int want = s == ShardingStrategy.FULL_SHARD ? 2 * 2 + 2 : 2;
                assertEquals(want, fsdp.prefetchHits(), s + ": gathers that a prefetch had started");
                fsdp.detach();
            }
            return null;
        });
    }
}
