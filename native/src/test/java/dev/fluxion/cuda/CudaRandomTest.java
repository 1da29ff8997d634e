package dev.fluxion.cuda;

import dev.fluxion.nn.Functional;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.optim.AdamW;
import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random numbers made on the GPU (random.cu): the values are Philox 4x32-10 keyed by the generator's next value
 * (checked against a Java Philox here), a seed reproduces them, their statistics are those of the distribution,
 * and rand/randn/bernoulli/dropout/arange on a CUDA device neither wait for the GPU nor copy anything to it.
 */
@Tag("gpu")
@SuppressWarnings("try")
class CudaRandomTest {
    @Test void uniformValuesArePhiloxKeyedByTheGeneratorsNextValue() {
        Device gpu = CudaTesting.gpu();
        long key = new Generator(42).nextLong();
        for (DType dt : CudaTesting.FLOATS) {
            double[] got = Tensor.rand(new Generator(42), dt, gpu, 3, 37).to(Device.CPU).toDoubleArray();
            for (int i = 0; i < got.length; i++) assertEquals(uniform(dt, key, i), got[i], 0.0, dt + " element " + i);
        }
    }

    @Test void normalValuesAreBoxMullerOnPhilox() {
        Device gpu = CudaTesting.gpu();
        long key = new Generator(7).nextLong();
        double[] got = Tensor.randn(new Generator(7), DType.FLOAT64, gpu, 101).to(Device.CPU).toDoubleArray();
        for (int i = 0; i < got.length; i++) {
            int[] r = philox(i / 4, key);
            int pair = (i % 4) / 2;
            double u1 = ((r[2 * pair] >>> 8) + 1.0) * 0x1.0p-24, u2 = (r[2 * pair + 1] >>> 8) * 0x1.0p-24;
            double rad = Math.sqrt(-2 * Math.log(u1)), t = 2 * Math.PI * u2;
            assertEquals(i % 2 == 0 ? rad * Math.cos(t) : rad * Math.sin(t), got[i], 1e-12, "element " + i);   // device libm vs Java's
        }
    }

    @Test void theSameSeedGivesTheSameValuesAndTheStreamMovesOn() {
        Device gpu = CudaTesting.gpu();
        Generator a = new Generator(3), b = new Generator(3);
        float[] a1 = Tensor.rand(a, DType.FLOAT32, gpu, 1000).toFloatArray(), b1 = Tensor.rand(b, DType.FLOAT32, gpu, 1000).toFloatArray();
        float[] a2 = Tensor.rand(a, DType.FLOAT32, gpu, 1000).toFloatArray();
        assertArrayEquals(a1, b1, "same seed, same values");
        assertFalse(java.util.Arrays.equals(a1, a2), "the second draw of a generator differs from the first");
        Generator.manualSeed(11);
        float[] g1 = Tensor.randn(DType.FLOAT32, gpu, 64).toFloatArray();
        Generator.manualSeed(11);
        assertArrayEquals(g1, Tensor.randn(DType.FLOAT32, gpu, 64).toFloatArray(), "manualSeed reproduces the global generator's draws");
    }

    @Test void statisticsOfAMillionDraws() {
        Device gpu = CudaTesting.gpu();
        Generator g = new Generator(5);
        Tensor u = Tensor.rand(g, DType.FLOAT32, gpu, 1 << 20);
        assertEquals(0.5, u.mean().item(), 0.002, "uniform mean");
        assertEquals(1.0 / 12, u.var().item(), 0.001, "uniform variance");
        assertTrue(u.min().item() >= 0 && u.max().item() < 1, "uniform in [0, 1)");
        for (DType dt : CudaTesting.FLOATS) {
            Tensor n = Tensor.randn(g, dt, gpu, 1 << 20).to(DType.FLOAT64);
            assertEquals(0, n.mean().item(), 0.005, dt + " normal mean");
            assertEquals(1, n.var().item(), 0.01, dt + " normal variance");
        }
        Tensor b = Tensor.rand(g, DType.BFLOAT16, gpu, 1 << 16);
        assertTrue(b.max().item() < 1, "bfloat16 uniforms never round up to 1");
    }

    @Test void arangeOnTheDeviceEqualsTheCpus() {
        Device gpu = CudaTesting.gpu();
        double[][] cases = {{0, 1000, 1}, {-3, 5.5, 0.25}, {10, -7, -3}, {0.1, 2, 0.1}};
        for (double[] c : cases)
            for (DType dt : new DType[] {null, DType.FLOAT32, DType.FLOAT64, DType.BFLOAT16, DType.INT64, DType.INT32}) {
                Tensor want = Tensor.arange(c[0], c[1], c[2], dt), got = Tensor.arange(c[0], c[1], c[2], dt, gpu);
                assertEquals(gpu, got.device());
                CudaTesting.assertClose(want, got, 0, 0, "arange " + java.util.Arrays.toString(c) + " " + dt);
            }
    }

    @Test void bernoulliOnTheDevice() {
        Device gpu = CudaTesting.gpu();
        Tensor p = Tensor.full(0.3, DType.FLOAT32, gpu, 1 << 18);
        Tensor x = p.bernoulli(new Generator(9));
        assertEquals(DType.FLOAT32, x.dtype());
        assertEquals(gpu, x.device());
        assertEquals(0.3, x.mean().item(), 0.005, "mean of bernoulli(0.3)");
        assertEquals(0.0, x.mul(x.sub(1)).abs().sum().item(), 0.0, "values are 0 or 1");
        Tensor edges = Tensor.of(new float[] {0, 1, 0, 1}, 4).to(gpu).bernoulli(new Generator(1));
        assertArrayEquals(new float[] {0, 1, 0, 1}, edges.toFloatArray(), "p = 0 never, p = 1 always");
    }

    @Test void randomOpsNeitherWaitForTheGpuNorCopyToIt() {
        Device gpu = CudaTesting.gpu();
        CudaDevice d = CudaBackend.of(gpu).cudaDevice();
        Tensor x = Tensor.ones(DType.FLOAT32, gpu, 64, 64), p = Tensor.full(0.5, DType.FLOAT32, gpu, 64);
        Functional.dropout(x, 0.1, new Generator(1));                      // warm-up
        long syncs = d.hostSyncs(), uploads = d.staging.uploads(), launches = d.kernels.launches("fx_random"), ar = d.kernels.launches("fx_arange");
        long drop = d.kernels.launches("fx_dropout_fwd");
        Tensor.rand(new Generator(1), DType.FLOAT32, gpu, 100);
        Tensor.randn(new Generator(1), DType.BFLOAT16, gpu, 100);
        p.bernoulli(new Generator(1));
        Functional.dropout(x, 0.1, new Generator(1));
        Tensor.arange(0, 100, 1, DType.INT64, gpu);
        assertEquals(0, d.hostSyncs() - syncs, "host synchronisations");
        assertEquals(0, d.staging.uploads() - uploads, "host-to-device copies");
        assertEquals(3, d.kernels.launches("fx_random") - launches, "device random draws");
        assertEquals(1, d.kernels.launches("fx_dropout_fwd") - drop, "dropout: one fused kernel (its uniforms drawn inside)");
        assertEquals(1, d.kernels.launches("fx_arange") - ar, "device arange");
    }

    @Test void dropoutMasksAreReproducibleAndHaveTheirRate() {
        Device gpu = CudaTesting.gpu();
        Tensor x = Tensor.ones(DType.BFLOAT16, gpu, 512, 512);
        Tensor y1 = Functional.dropout(x, 0.25, new Generator(17)), y2 = Functional.dropout(x, 0.25, new Generator(17));
        assertEquals(0.0, y1.sub(y2).abs().sum().item(), 0.0, "same seed, same mask");
        double kept = y1.ne(0.0).to(DType.FLOAT32).mean().item();
        assertEquals(0.75, kept, 0.005, "kept fraction");
        assertEquals(1 / 0.75, y1.max().item(), 1e-2, "kept values scaled by 1/(1-p) (bfloat16)");
    }

    @Test void aTrainingStepWithDropoutMakesNoHostSyncsAndASeedReproducesIt() {
        Device gpu = CudaTesting.gpu();
        double[] first = new double[2], losses = new double[2];
        for (int run = 0; run < 2; run++) {
            Gpt model = new Gpt(new Gpt.Config(256, 64, 2, 4, 128, 0.1), Init.seed(1).on(gpu));
            model.train();
            var opt = new AdamW(model.parameters(), AdamW.Config.DEFAULT.withLr(1e-3));
            Generator g = new Generator(2);
            Tensor ids = Tensor.randint(g, 0, 256, 8, 64).to(gpu), targets = Tensor.randint(g, 0, 256, 8, 64).to(gpu);
            Tensor[] loss = new Tensor[1];
            CudaDevice d = CudaBackend.of(gpu).cudaDevice();
            long[] uploads = new long[1];
            Runnable step = () -> {
                try (var scope = Scope.open()) {
                    long u0 = d.staging.uploads();
                    try (var ac = Autocast.open(DType.BFLOAT16)) { loss[0] = Losses.crossEntropy(model.forward(ids), targets); }
                    opt.zeroGrad();
                    loss[0].backward();
                    uploads[0] += d.staging.uploads() - u0;                 // forward + backward (the fused Adam uploads its pointer table)
                    opt.step();
                    loss[0] = Scope.escape(loss[0]);
                }
            };
            step.run();                                                  // warm-up
            first[run] = loss[0].item();
            long syncs = d.hostSyncs(), draws = d.kernels.launches("fx_dropout_fwd");
            uploads[0] = 0;
            for (int i = 0; i < 3; i++) step.run();
            assertEquals(0, d.hostSyncs() - syncs, "host synchronisations in 3 training steps with dropout");
            assertTrue(d.kernels.launches("fx_dropout_fwd") - draws >= 3 * 5, "fused dropouts on the GPU (embedding + 3 per block)");
            assertEquals(0, uploads[0], "host-to-device copies in the forward and backward of 3 steps with dropout");
            losses[run] = loss[0].item();
        }
        // the same seeds give the same masks: the first losses agree to GEMM reduction order (a different mask would move
        // them by far more), and so do the losses after 4 steps (atomics in some backward kernels may reorder sums)
        assertEquals(first[0], first[1], 1e-6 * Math.abs(first[0]), "the first step's loss under the same seeds");
        assertEquals(losses[0], losses[1], 1e-3 * Math.abs(losses[0]), "the loss after 4 steps under the same seeds");
    }

    // ---------------------------------------------------------------- a Java Philox 4x32-10 (the reference)

    /** The four words of Philox 4x32-10 for counter {group low, group high, 0, 0} and key {low, high} (random.cu's layout). */
    static int[] philox(long group, long key) {
        return philox(new int[] {(int) group, (int) (group >>> 32), 0, 0}, (int) key, (int) (key >>> 32));
    }

    /** Philox 4x32-10 of counter c and key {k0, k1}, written from the published algorithm. */
    static int[] philox(int[] c, int k0, int k1) {
        int c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
        for (int r = 0; r < 10; r++) {
            long p0 = 0xD2511F53L * (c0 & 0xFFFFFFFFL), p1 = 0xCD9E8D57L * (c2 & 0xFFFFFFFFL);
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0, n1 = (int) p1, n2 = (int) (p0 >>> 32) ^ c3 ^ k1, n3 = (int) p0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
            k0 += 0x9E3779B9;
            k1 += 0xBB67AE85;
        }
        return new int[] {c0, c1, c2, c3};
    }

    private static double uniform(DType dt, long key, int i) {
        if (dt == DType.FLOAT64) {
            int[] r = philox(i / 2, key);
            long hi = r[2 * (i % 2)] & 0xFFFFFFFFL, lo = r[2 * (i % 2) + 1] & 0xFFFFFFFFL;
            return ((hi << 21) ^ (lo >>> 11)) * 0x1.0p-53;
        }
        long w = philox(i / 4, key)[i % 4] & 0xFFFFFFFFL;
        return switch (dt) {
            case FLOAT16 -> (w >>> 21) * 0x1.0p-11;
            case BFLOAT16 -> (w >>> 24) * 0x1.0p-8;
            default -> (w >>> 8) * 0x1.0p-24;
        };
    }
}
