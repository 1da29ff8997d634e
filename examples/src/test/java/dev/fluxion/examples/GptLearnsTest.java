package dev.fluxion.examples;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.optim.AdamW;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A generated task: each sequence counts up from a random start modulo 16, so the next token is always
 * the current one plus 1. A tiny GPT must take the loss from ln 16 = 2.77 to below 0.1 in 150 AdamW steps.
 */
class GptLearnsTest {
    @Test
    void lossFallsBelowBoundOnACountingTask() {
        int vocab = 16, t = 12, batch = 16;
        Gpt model = new Gpt(new Gpt.Config(vocab, t, 1, 2, 32, 0.0), Init.seed(3));
        var opt = new AdamW(model.parameters(), AdamW.Config.DEFAULT.withLr(1e-2));
        var rng = new Generator(4);
        double first = Double.NaN, last = Double.NaN;
        for (int step = 0; step < 150; step++) {
            try (var scope = Scope.open()) {
                long[] x = new long[batch * t], y = new long[batch * t];
                for (int b = 0; b < batch; b++) {
                    long s = rng.nextLong(0, vocab);
                    for (int i = 0; i < t; i++) { x[b * t + i] = (s + i) % vocab; y[b * t + i] = (s + i + 1) % vocab; }
                }
                Tensor loss = Losses.crossEntropy(model.forward(Tensor.of(x, batch, t)), Tensor.of(y, batch, t));
                opt.zeroGrad();
                loss.backward();
                opt.step();
                last = loss.item();
                if (step == 0) first = last;
            }
        }
        assertTrue(first > 2.5, "starts near ln 16, got " + first);
        assertTrue(last < 0.1, "loss after 150 steps is " + last + ", expected < 0.1");
    }
}
