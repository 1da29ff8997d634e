package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a GPT training step keeps alive for backward: the tape after forward, before backward, holds only
 * what each rule saved. Against the same step recorded keeping every input and output of every op (the
 * tape before saved state) it keeps less, by at least the attention scores that only the softmax's
 * inputs were: the matmul's output and its scaled and masked copies, (B, H, T, T) each, per layer. The
 * gradients are the same.
 */
class GptSavedStateTest {
    private static final Gpt.Config CHAR_GPT = new Gpt.Config(256, 64, 3, 4, 128, 0.0);   // examples/CharGpt's defaults
    private static final int BATCH = 16;

    @AfterEach
    void clearTape() { Autodiff.tape().clear(); }

    private record Step(long savedBytes, float[] headGrad, float[] lnGrad) {}

    private static Step step(boolean keepAll) {
        Autodiff.tape().clear();                         // entries of earlier tests not yet collected would count
        Gpt model = new Gpt(CHAR_GPT, Init.seed(1));
        Tensor ids = Tensor.randint(new Generator(3), 0, CHAR_GPT.vocab(), BATCH, CHAR_GPT.context());
        Tensor targets = Tensor.randint(new Generator(4), 0, CHAR_GPT.vocab(), BATCH, CHAR_GPT.context());
        Tensor loss;
        try (var all = keepAll ? Autodiff.keepAllInputs() : null) {
            loss = Losses.crossEntropy(model.forward(ids), targets);
        }
        long bytes = Autodiff.tape().savedBytes();
        loss.backward();
        var p = model.namedParameters();
        return new Step(bytes, p.get("head.weight").grad().toFloatArray(), p.get("lnF.weight").grad().toFloatArray());
    }

    @Test
    void aStepKeepsLessThanKeepingEveryInputAndOutput() {
        Step all = step(true), saved = step(false);
        long scores = 4L * BATCH * CHAR_GPT.heads() * CHAR_GPT.context() * CHAR_GPT.context();   // one (B, H, T, T) float32
        // the fused attention kernel writes no (B, H, T, T) tensor in either mode (it keeps a row log-sum-exp):
        // what remains to drop is one score-sized tensor's worth of activations per layer
        long bound = all.savedBytes() - scores * CHAR_GPT.layers();
        System.out.printf("GPT %s, batch %d: tape keeps %d bytes for backward; keeping every input and output: %d%n",
                CHAR_GPT, BATCH, saved.savedBytes(), all.savedBytes());
        assertTrue(saved.savedBytes() > 0);
        assertTrue(saved.savedBytes() <= bound, "saved state keeps " + saved.savedBytes() + " bytes, keeping every input and output "
                + all.savedBytes() + ", which less one attention score tensor per layer is " + bound);
        assertArrayEquals(all.headGrad(), saved.headGrad(), 1e-6f);
        assertArrayEquals(all.lnGrad(), saved.lnGrad(), 1e-6f);
    }
}
