package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.DeviceMesh;
import dev.fluxion.parallel.DistributedDataParallel;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static dev.fluxion.parallel.tensor.Close.assertSameState;

/**
 * 2-D parallelism on 4 ranks, mesh ("dp", "tp") = (2, 2): DDP over "dp" around a tensor-parallel Gpt over
 * "tp" equals one process training on the whole batch. (FSDP over "dp" is the target; this is the
 * same composition with DDP, which is on main.)
 */
class DataTensorParallelTest {
    static final Duration TIMEOUT = Duration.ofSeconds(60);
    static final Gpt.Config CONFIG = TensorParallelGptTest.CONFIG;
    static final int B = 2, T = 8, STEPS = 3;

    /** The global batch of a step: 2B rows; dp rank d trains on rows [dB, (d+1)B). */
    static Tensor[] batch(int step) {
        Tensor ids = Tensor.randint(new Generator(900 + step), 0, CONFIG.vocab(), 2 * B, T + 1);
        return new Tensor[] {ids.narrow(1, 0, T).contiguous(), ids.narrow(1, 1, T).contiguous()};
    }

    @Test void ddpOverDpWithTensorParallelOverTpEqualsSingleProcess() throws Exception {
        Gpt ref = new Gpt(CONFIG, Init.seed(4));
        AdamW opt0 = new AdamW(ref.parameters(), AdamW.Config.DEFAULT);
        for (int s = 0; s < STEPS; s++) {
            Tensor[] b = batch(s);
            Tensor loss = Losses.crossEntropy(ref.forward(b[0]), b[1]);
            opt0.zeroGrad();
            loss.backward();
            opt0.step();
        }
        List<Map<String, Tensor>> states = LocalCluster.run(4, TIMEOUT, world -> {
            DeviceMesh mesh = DeviceMesh.of(world, new String[] {"dp", "tp"}, new int[] {2, 2});
            ProcessGroup tp = mesh.group("tp"), dp = mesh.group("dp");
            Init init = Init.seed(4);
            Gpt m = new Gpt(CONFIG, init);
            TensorParallel.gptPlan(CONFIG).apply(m, new TpContext(tp, true, init.generator()));
            var ddp = new DistributedDataParallel(m, dp);
            AdamW opt = new AdamW(m.parameters(), AdamW.Config.DEFAULT);
            int d = mesh.coordinate("dp");
            for (int s = 0; s < STEPS; s++) {
                Tensor[] b = batch(s);
                Tensor x = b[0].narrow(0, d * B, B).contiguous(), y = b[1].narrow(0, d * B, B).contiguous();
                Tensor loss = VocabParallelCrossEntropy.apply(ddp.forward(x), y, tp);
                opt.zeroGrad();
                loss.backward();
                ddp.finish();
                opt.step();
            }
            return TensorParallel.fullStateDict(m, tp);
        });
        for (int r = 0; r < 4; r++) assertSameState(ref.stateDict(), states.get(r), 1e-5, "rank " + r + " weights");
    }
}
