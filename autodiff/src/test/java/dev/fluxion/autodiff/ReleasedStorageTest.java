package dev.fluxion.autodiff;

import dev.fluxion.tensor.Storage;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * FSDP frees a unit's gathered parameters after forward and gathers them again before backward: the tape
 * must accept the same tensors once their storage is re-materialized and refilled, and refuse them while
 * it is released.
 */
class ReleasedStorageTest {
    @AfterEach
    void clearTape() { Autodiff.tape().clear(); }

    private static void refill(Storage s, float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.nativeOrder());
        b.asFloatBuffer().put(values);
        s.writeBytes(0, b);
    }

    @Test void backwardRunsOnReMaterializedParameters() {
        Tensor w = Tensor.of(1f, 2f, 3f).requiresGrad(true);
        Tensor x = Tensor.of(4f, 5f, 6f).requiresGrad(true);
        Tensor loss = w.mul(x).sum();                       // mul saves w for x's gradient and x for w's
        Storage gathered = w.storage();
        gathered.releaseMemory();                           // after forward: the gathered parameter is freed
        gathered.materialize();                             // before backward: gathered again
        refill(gathered, 1f, 2f, 3f);
        loss.backward();
        assertArrayEquals(new float[] {4, 5, 6}, w.grad().toFloatArray());
        assertArrayEquals(new float[] {1, 2, 3}, x.grad().toFloatArray());
    }

    @Test void backwardWhileReleasedSaysSo() {
        Tensor w = Tensor.of(1f, 2f, 3f).requiresGrad(true);
        Tensor x = Tensor.of(4f, 5f, 6f).requiresGrad(true);
        Tensor loss = w.mul(x).sum();
        w.storage().releaseMemory();
        var e = assertThrows(IllegalStateException.class, loss::backward);
        assertTrue(e.getMessage().contains("released its memory") && e.getMessage().contains("materialize()"), e.getMessage());
    }
}
