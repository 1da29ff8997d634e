package dev.fluxion.cuda;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Parameter;
import dev.fluxion.optim.AdamW;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The GPT model on the GPU against the CPU (loss and every gradient), and device memory over 1000 training steps. */
@Tag("gpu")
class GptOnGpuTest {
    private static final Gpt.Config CONFIG = new Gpt.Config(64, 32, 2, 4, 64, 0.0);

    @Test
    void lossAndGradientsMatchTheCpu() {
        Device gpu = CudaTesting.gpu();
        Gpt cpu = new Gpt(CONFIG, Init.seed(1)), dev = new Gpt(CONFIG, Init.seed(1).on(gpu));   // same draws, placed on each device
        Generator g = new Generator(2);
        Tensor x = Tensor.randint(g, 0, 64, 4, 32), y = Tensor.randint(g, 0, 64, 4, 32);
        Tensor lossCpu = Losses.crossEntropy(cpu.forward(x), y);
        Tensor lossGpu = Losses.crossEntropy(dev.forward(x.to(gpu)), y.to(gpu));
        assertEquals(lossCpu.item(), lossGpu.item(), 1e-4 * Math.abs(lossCpu.item()));
        lossCpu.backward();
        lossGpu.backward();
        List<Parameter> pc = cpu.parameters(), pg = dev.parameters();
        for (int i = 0; i < pc.size(); i++) {
            float[] a = pc.get(i).grad().toFloatArray(), b = pg.get(i).grad().toFloatArray();
            double scale = 1e-12, err = 0;
            for (int k = 0; k < a.length; k++) { scale = Math.max(scale, Math.abs(a[k])); err = Math.max(err, Math.abs(a[k] - b[k])); }
            assertTrue(err <= 1e-3 * scale, "gradient of " + cpu.namedParameters().keySet().toArray()[i] + ": max error " + err + " at scale " + scale);
        }
    }

    @Test
    void deviceMemoryReturnsToItsBaselineAfter1000Steps() {
        Device gpu = CudaTesting.gpu();
        CudaBackend backend = CudaTesting.backend(gpu);
        Gpt model = new Gpt(CONFIG, Init.seed(3).on(gpu));
        var opt = new AdamW(model.parameters(), AdamW.Config.DEFAULT.withLr(1e-3));
        Generator g = new Generator(4);
        long baseline = -1;
        for (int step = 0; step < 1000; step++) {
            try (var scope = Scope.open()) {
                Tensor x = Tensor.randint(g, 0, 64, 4, 32).to(gpu), y = Tensor.randint(g, 0, 64, 4, 32).to(gpu);
                Tensor loss = Losses.crossEntropy(model.forward(x), y);
                opt.zeroGrad();
                loss.backward();
                opt.step();
            }
            if (step == 1) baseline = backend.memoryStats().inUse();           // parameters, gradients and optimizer state exist now
        }
        assertEquals(baseline, backend.memoryStats().inUse(), "device bytes in use after 1000 steps vs after step 2");
    }
}
