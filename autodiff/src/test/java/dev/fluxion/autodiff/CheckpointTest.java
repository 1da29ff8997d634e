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
        Autodiff.tape().clear();                         // entries of earlier tests not yet collected would count
        Tensor[] plain = inputs();
        Tensor lossPlain = SEGMENT.apply(plain).pow(2).sum();
        long bytesPlain = Autodiff.tape().savedBytes();
        lossPlain.backward();

        Autodiff.tape().clear();
        Tensor[] ckpt = inputs();
        Tensor lossCkpt = Autodiff.checkpoint(SEGMENT, ckpt).pow(2).sum();
        int savedCkpt = Autodiff.tape().savedTensorCount();
        long bytesCkpt = Autodiff.tape().savedBytes();
        lossCkpt.backward();

        // plain keeps x, each layer's tanh output and the weights of layers 2-4 (layer 1's weight is needed only
        // for x's gradient, and x needs none); checkpointed: its inputs (x, all 4 weights) and the segment's output
        assertEquals(7, savedCkpt, "checkpoint entry (its 5 inputs) + pow (base and exponent) + sum (nothing)");
        long activation = 8 * 16 * 4, weight = 16 * 16 * 4;
        assertEquals(bytesPlain - 3 * activation + weight, bytesCkpt, "checkpoint keeps " + bytesCkpt + " bytes, plain keeps " + bytesPlain);
        assertTrue(bytesCkpt < bytesPlain);
        for (int i = 1; i < 5; i++)
            assertArrayEquals(plain[i].grad().toFloatArray(), ckpt[i].grad().toFloatArray(), 1e-6f, "weight " + i);
        assertEquals(0, Autodiff.tape().size(), "backward releases every entry, the recomputed ones included");
    }
}
