package dev.fluxion.cuda;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Parameter;
import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Autocast is consulted by the ops, so it applies on the CUDA backend as on the CPU: a Linear returns bfloat16
 * with float32 parameter gradients, and a GPT under bfloat16 autocast on the GPU matches the same model under
 * autocast on the CPU (both run bfloat16 GEMMs with float32 accumulation; the GPU's accumulation order differs,
 * so outputs agree to about a bfloat16 rounding and gradients to a few of them).
 */
@Tag("gpu")
@SuppressWarnings("try")   // scopes opened only for their effect on the ops inside
class AutocastOnGpuTest {
    @Test void linearInBfloat16AutocastOnTheGpu() {
        Device gpu = CudaTesting.gpu();
        Linear lin = new Linear(64, 32, true, Init.seed(1).on(gpu));
        Tensor x = Tensor.randn(new Generator(2), DType.FLOAT32, 8, 64).to(gpu);
        Tensor loss;
        try (var ac = Autocast.open(DType.BFLOAT16)) {
            Tensor y = lin.forward(x);
            assertEquals(DType.BFLOAT16, y.dtype());
            assertEquals(gpu, y.device());
            loss = y.sum();
        }
        loss.backward();
        assertEquals(DType.FLOAT32, lin.weight().grad().dtype());
        assertEquals(DType.FLOAT32, lin.bias().grad().dtype());
        float[] b = lin.bias().grad().toFloatArray();
        for (float v : b) assertEquals(8f, v, "d sum / d bias is the row count, exact in bfloat16");
    }

    @Test void gptUnderAutocastMatchesTheCpu() {
        Device gpu = CudaTesting.gpu();
        Gpt.Config config = new Gpt.Config(64, 32, 2, 4, 64, 0.0);
        Gpt cpu = new Gpt(config, Init.seed(3)), dev = new Gpt(config, Init.seed(3).on(gpu));
        Generator g = new Generator(4);
        Tensor x = Tensor.randint(g, 0, 64, 4, 32), y = Tensor.randint(g, 0, 64, 4, 32);
        Tensor lossCpu, lossGpu;
        try (var ac = Autocast.open(DType.BFLOAT16)) {
            Tensor lc = cpu.forward(x), lg = dev.forward(x.to(gpu));
            assertEquals(DType.BFLOAT16, lc.dtype());
            assertEquals(DType.BFLOAT16, lg.dtype());
            lossCpu = Losses.crossEntropy(lc, y);
            lossGpu = Losses.crossEntropy(lg, y.to(gpu));
        }
        assertEquals(lossCpu.item(), lossGpu.item(), 2e-3 * Math.abs(lossCpu.item()));
        lossCpu.backward();
        lossGpu.backward();
        List<Parameter> pc = cpu.parameters(), pg = dev.parameters();
        for (int i = 0; i < pc.size(); i++) {
            assertEquals(DType.FLOAT32, pg.get(i).grad().dtype());
            float[] a = pc.get(i).grad().toFloatArray(), b = pg.get(i).grad().toFloatArray();
            double scale = 1e-12, err = 0;
            for (int k = 0; k < a.length; k++) { scale = Math.max(scale, Math.abs(a[k])); err = Math.max(err, Math.abs(a[k] - b[k])); }
            assertTrue(err <= 3e-2 * scale, "gradient of " + cpu.namedParameters().keySet().toArray()[i] + ": max error " + err + " at scale " + scale);
        }
    }
}
