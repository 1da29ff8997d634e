package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.DeviceMesh;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.fsdp.FsdpConfig;
import dev.fluxion.parallel.fsdp.FullyShardedDataParallel;
import dev.fluxion.parallel.fsdp.WrapPolicy;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

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
            ProcessGroup tp = mesh.group("tp");
            Init init = Init.seed(5);
            Gpt m = new Gpt(CONFIG, init);
            TensorParallel.gptPlan(CONFIG).apply(m, new TpContext(tp, true, init.generator()));
            var fsdp = FullyShardedDataParallel.fullyShard(m, mesh, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT);
            AdamW opt = new AdamW(fsdp.parameters(), AdamW.Config.DEFAULT);
            int d = mesh.coordinate("dp");
            double[] norms = new double[STEPS];
            for (int s = 0; s < STEPS; s++) {
                Tensor[] b = batch(s);
                Tensor x = b[0].narrow(0, d * B, B).contiguous(), y = b[1].narrow(0, d * B, B).contiguous();
                Tensor loss = VocabParallelCrossEntropy.apply(m.forward(x), y, tp);
                opt.zeroGrad();
                loss.backward();
                norms[s] = TpTraining.clipGradNorm(fsdp, 1e9, tp);
                opt.step();
            }
            return new Object[] {TensorParallel.fullStateDict(fsdp, tp), norms};
        });
        for (int r = 0; r < 4; r++) {
            @SuppressWarnings("unchecked") Map<String, Tensor> state = (Map<String, Tensor>) results.get(r)[0];
            assertSameState(ref.stateDict(), state, 1e-5, "rank " + r + " weights");
            double[] norms = (double[]) results.get(r)[1];
            for (int s = 0; s < STEPS; s++) assertEquals(refNorms[s], norms[s], 1e-5 * refNorms[s], "rank " + r + " gradient norm at step " + s);
        }
    }
}
