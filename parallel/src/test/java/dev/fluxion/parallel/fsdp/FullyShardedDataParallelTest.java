package dev.fluxion.parallel.fsdp;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Losses;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
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
}
