package dev.fluxion.autodiff;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointTest {
    @AfterEach
    void clearTape() { Autodiff.tape().clear(); }

    /** A 4-layer tanh MLP segment: many intermediates when recorded normally. */
    private static final Function<Tensor[], Tensor> SEGMENT = a -> {
        Tensor h = a[0];
        for (int i = 1; i < a.length; i++) h = h.matmul(a[i]).tanh();
        return h;
    };

    private static Tensor[] inputs() {
        var g = new Generator(5);
        Tensor x = Tensor.randn(g, 8, 16);
        Tensor[] all = new Tensor[5];
        all[0] = x;
        for (int i = 1; i < 5; i++) all[i] = Tensor.randn(g, 16, 16).mul(0.3).detach().requiresGrad(true);
        return all;
    }

    @Test
    void checkpointedSegmentGivesSameGradientsAndSavesFewerTensors() {
        Tensor[] plain = inputs();
        Tensor lossPlain = SEGMENT.apply(plain).pow(2).sum();
        int savedPlain = Autodiff.tape().savedTensorCount();
        lossPlain.backward();

        Tensor[] ckpt = inputs();
        Tensor lossCkpt = Autodiff.checkpoint(SEGMENT, ckpt).pow(2).sum();
        int savedCkpt = Autodiff.tape().savedTensorCount();
        lossCkpt.backward();

        // plain: 4 layers x (reshape, matmul, reshape, tanh) + pow + sum; checkpointed: one entry + pow + sum
        assertTrue(savedCkpt < savedPlain / 3, "checkpoint keeps " + savedCkpt + " saved tensors, plain keeps " + savedPlain);
        assertEquals(11, savedCkpt, "checkpoint entry (5 inputs + 1 output) + pow (2 inputs + 1 output) + sum (1 + 1)");
        for (int i = 1; i < 5; i++)
            assertArrayEquals(plain[i].grad().toFloatArray(), ckpt[i].grad().toFloatArray(), 1e-6f, "weight " + i);
        assertEquals(0, Autodiff.tape().size(), "backward releases every entry, the recomputed ones included");
    }
}
