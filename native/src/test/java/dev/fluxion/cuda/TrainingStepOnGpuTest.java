package dev.fluxion.cuda;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.Clipping;
import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A whole GPT training step on the GPU (bf16 autocast, cross-entropy, backward, gradient clipping, AdamW) runs the
 * fused kernels (layer norm, cross-entropy, multi-tensor Adam: counted per launch) and never waits for the GPU:
 * the host-sync counter does not move until the loss is read.
 */
@Tag("gpu")
@SuppressWarnings("try")
class TrainingStepOnGpuTest {
    @Test void aTrainingStepRunsTheFusedKernelsWithoutHostSyncs() {
        Device gpu = CudaTesting.gpu();
        CudaDevice d = CudaBackend.of(gpu).cudaDevice();
        Gpt model = new Gpt(new Gpt.Config(256, 64, 2, 4, 128, 0.0), Init.seed(1).on(gpu));
        var opt = new AdamW(model.parameters(), AdamW.Config.DEFAULT.withLr(1e-3));
        Generator g = new Generator(2);
        Tensor x = Tensor.randint(g, 0, 256, 8, 64).to(gpu), y = Tensor.randint(g, 0, 256, 8, 64).to(gpu);
        Tensor[] loss = new Tensor[1];
        Runnable step = () -> {
            try (var scope = Scope.open()) {
                try (var ac = Autocast.open(DType.BFLOAT16)) { loss[0] = Losses.crossEntropy(model.forward(x), y); }
                opt.zeroGrad();
                loss[0].backward();
                Clipping.clipGradNorm(model.parameters(), 1.0);
                opt.step();
                loss[0] = Scope.escape(loss[0]);
            }
        };
        step.run();                                                    // warm-up: cuBLAS handles, first allocations
        double first = loss[0].item();
        Map<String, Long> before = counts(d);
        long syncs = CudaBackend.of(gpu).hostSyncCount();
        for (int i = 0; i < 3; i++) step.run();
        long during = CudaBackend.of(gpu).hostSyncCount() - syncs;
        Map<String, Long> after = counts(d);
        double last = loss[0].item();
        assertEquals(0, during, "host synchronisations during 3 training steps");
        for (String k : before.keySet())
            assertTrue(after.get(k) > before.get(k), "fused kernel " + k + " ran in the steps: " + before + " -> " + after);
        assertTrue(last < first, "the loss falls on one fixed batch: " + first + " -> " + last);
    }

    private static Map<String, Long> counts(CudaDevice d) {
        Map<String, Long> m = new TreeMap<>();
        for (String k : new String[] {"fx_norm_fwd", "fx_norm_bwd", "fx_cross_entropy_fwd", "fx_cross_entropy_bwd", "fx_adam"})
            m.put(k, d.kernels.launches(k));
        return m;
    }
}
