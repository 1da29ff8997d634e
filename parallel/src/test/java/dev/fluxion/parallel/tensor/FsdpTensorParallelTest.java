package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.DeviceMesh;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.parallel.fsdp.FsdpCheckpoint;
import dev.fluxion.parallel.fsdp.FsdpConfig;
import dev.fluxion.parallel.fsdp.FullyShardedDataParallel;
import dev.fluxion.parallel.fsdp.WrapPolicy;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import java.util.List;
import java.util.Map;

import static dev.fluxion.parallel.tensor.Close.assertSameState;
import static dev.fluxion.parallel.tensor.DataTensorParallelTest.B;
import static dev.fluxion.parallel.tensor.DataTensorParallelTest.CONFIG;
import static dev.fluxion.parallel.tensor.DataTensorParallelTest.STEPS;
import static dev.fluxion.parallel.tensor.DataTensorParallelTest.TIMEOUT;
import static dev.fluxion.parallel.tensor.DataTensorParallelTest.batch;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The 2-D layout on 4 ranks, mesh ("dp", "tp") = (2, 2): a tensor-parallel Gpt over "tp" whose
 * pieces FSDP shards further over "dp" (one unit per block), trained with AdamW on the FSDP shards and
 * clipped by the global norm, equals one process training on the whole batch; the checkpoint it writes
 * (FSDP's consolidated tensors, put together by TensorParallel) is the single-process state dict.
 */
class FsdpTensorParallelTest {
    @TempDir Path dir;

    /** A tensor-parallel Gpt over "tp" of seed, FSDP-sharded over "dp". */
    static FullyShardedDataParallel model(DeviceMesh mesh, long seed) {
        Init init = Init.seed(seed);
        Gpt m = new Gpt(CONFIG, init);
        TensorParallel.gptPlan(CONFIG).apply(m, new TpContext(mesh.group("tp"), true, init.generator()));
        return FullyShardedDataParallel.fullyShard(m, mesh, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT);
    }

    static double step(FullyShardedDataParallel fsdp, AdamW opt, DeviceMesh mesh, int s) {
        Tensor[] b = batch(s);
        int d = mesh.coordinate("dp");
        Tensor x = b[0].narrow(0, d * B, B).contiguous(), y = b[1].narrow(0, d * B, B).contiguous();
        Tensor loss = VocabParallelCrossEntropy.apply(fsdp.module().forward(x), y, mesh.group("tp"));
        opt.zeroGrad();
        loss.backward();
        double norm = TpTraining.clipGradNorm(fsdp, 1e9, mesh.group("tp"));
        opt.step();
        return norm;
    }

    /**
     * Each tp coordinate saves its own FSDP checkpoint; a model of another seed loads them (parameters and
     * AdamW state) and its next step equals the saving model's; the single-process dict loads back too.
     */
    @Test void checkpointPerTpCoordinateResumesExactly() throws Exception {
        List<Object[]> results = LocalCluster.run(4, TIMEOUT, world -> {
            DeviceMesh mesh = DeviceMesh.of(world, new String[] {"dp", "tp"}, new int[] {2, 2});
            Path ckpt = dir.resolve("tp" + mesh.coordinate("tp"));
            var a = model(mesh, 6);
            AdamW optA = new AdamW(a.parameters(), AdamW.Config.DEFAULT);
            step(a, optA, mesh, 0);
            FsdpCheckpoint.save(ckpt, 1, a, optA);
            var b = model(mesh, 7);
            AdamW optB = new AdamW(b.parameters(), AdamW.Config.DEFAULT);
            long at = FsdpCheckpoint.loadLatest(ckpt, b, optB).orElseThrow();
            step(a, optA, mesh, 1);
            step(b, optB, mesh, 1);
            var c = model(mesh, 8);
            TensorParallel.loadFullStateDict(c, TensorParallel.fullStateDict(a, mesh.group("tp")), mesh.group("tp"));
            return new Object[] {at, TensorParallel.fullStateDict(a, mesh.group("tp")), TensorParallel.fullStateDict(b, mesh.group("tp")),
                    TensorParallel.fullStateDict(c, mesh.group("tp"))};
        });
        for (int r = 0; r < 4; r++) {
            Object[] res = results.get(r);
            assertEquals(1L, res[0], "rank " + r + " resumed step");
            @SuppressWarnings("unchecked") Map<String, Tensor> a = (Map<String, Tensor>) res[1], b = (Map<String, Tensor>) res[2], c = (Map<String, Tensor>) res[3];
            assertSameState(a, b, 0, "rank " + r + " resumed weights");
            assertSameState(a, c, 0, "rank " + r + " loaded single-process dict");
        }
    }

    @Test void fsdpOverDpWithTensorParallelOverTpEqualsSingleProcess() throws Exception {
        Gpt ref = new Gpt(CONFIG, Init.seed(5));
        AdamW opt0 = new AdamW(ref.parameters(), AdamW.Config.DEFAULT);
        double[] refNorms = new double[STEPS];
        for (int s = 0; s < STEPS; s++) {
            Tensor[] b = batch(s);
            Tensor loss = Losses.crossEntropy(ref.forward(b[0]), b[1]);
            opt0.zeroGrad();
            loss.backward();
            refNorms[s] = dev.fluxion.optim.Clipping.clipGradNorm(ref.parameters(), 1e9).item();
            opt0.step();
        }
        List<Object[]> results = LocalCluster.run(4, TIMEOUT, world -> {
            DeviceMesh mesh = DeviceMesh.of(world, new String[] {"dp", "tp"}, new int[] {2, 2});
            var fsdp = model(mesh, 5);
            AdamW opt = new AdamW(fsdp.parameters(), AdamW.Config.DEFAULT);
            double[] norms = new double[STEPS];
            for (int s = 0; s < STEPS; s++) norms[s] = step(fsdp, opt, mesh, s);
            return new Object[] {TensorParallel.fullStateDict(fsdp, mesh.group("tp")), norms};
        });
        for (int r = 0; r < 4; r++) {
            @SuppressWarnings("unchecked") Map<String, Tensor> state = (Map<String, Tensor>) results.get(r)[0];
            assertSameState(ref.stateDict(), state, 1e-5, "rank " + r + " weights");
            double[] norms = (double[]) results.get(r)[1];
            for (int s = 0; s < STEPS; s++) assertEquals(refNorms[s], norms[s], 1e-5 * refNorms[s], "rank " + r + " gradient norm at step " + s);
        }
    }
}
