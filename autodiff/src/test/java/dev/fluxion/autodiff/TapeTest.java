package dev.fluxion.autodiff;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TapeTest {
    @AfterEach
    void clearTape() { Autodiff.tape().clear(); }

    @Test
    void printsOneLinePerEntryWithShapesAndDtypes() {
        Tensor w = Tensor.ones(3, 2).requiresGrad(true);
        Tensor x = Tensor.ones(4, 3);
        Tensor y = x.matmul(w).relu().sum();
        String printed = Autodiff.tape().toString();
        assertTrue(printed.startsWith("Tape (5 entries)"), printed);
        assertTrue(printed.contains("matmul         [1, 4, 3] float32, [1, 3, 2] float32 -> [1, 4, 2] float32"), printed);
        assertTrue(printed.contains("relu           [4, 2] float32 -> [4, 2] float32"), printed);
        assertTrue(printed.contains("sum            [4, 2] float32 -> [] float32"), printed);
        y.backward();
    }

    @Test
    void backwardReleasesEveryEntryAndSavedTensor() {
        Tensor w = Tensor.randn(new Generator(1), 5, 5).requiresGrad(true);
        Tensor loss = w.matmul(w).tanh().mean();
        assertTrue(Autodiff.tape().savedTensorCount() > 0);
        loss.backward();
        assertEquals(0, Autodiff.tape().size());
        assertEquals(0, Autodiff.tape().savedTensorCount());
    }

    @Test
    void noGradRecordsNothingAndNests() {
        Tensor w = Tensor.ones(2).requiresGrad(true);
        try (var off = Autodiff.noGrad()) {
            Tensor y = w.mul(2);
            assertFalse(y.requiresGrad());
            try (var on = Autodiff.enableGrad()) {
                assertTrue(w.mul(2).requiresGrad());
            }
            assertFalse(Autodiff.isGradEnabled());
        }
        assertTrue(Autodiff.isGradEnabled());
        assertEquals(1, Autodiff.tape().size(), "only the op inside enableGrad was recorded");
    }

    @Test
    void detachCutsTheGraph() {
        Tensor w = Tensor.of(2f).requiresGrad(true);
        Tensor y = w.mul(w).detach().mul(w);             // d/dw = w*w (the detached factor is a constant)
        y.sum().backward();
        assertArrayEquals(new float[] {4f}, w.grad().toFloatArray());
    }

    @Test
    void gradientsAccumulateUntilZeroedAndBroadcastInputsAreSummedBack() {
        Tensor b = Tensor.zeros(3).requiresGrad(true);
        Tensor x = Tensor.ones(4, 3);
        x.add(b).sum().backward();
        x.add(b).sum().backward();
        assertArrayEquals(new float[] {8, 8, 8}, b.grad().toFloatArray(), "two passes of 4 rows each");
        b.setGrad(null);
        assertNull(b.grad());
    }

    @Test
    void castPassesTheGradientBackInTheInputDtype() {
        Tensor x = Tensor.of(new double[] {1.5, -2, 3}, 3).requiresGrad(true);
        x.to(DType.FLOAT32).mul(Tensor.of(2f, 3f, 4f)).sum().backward();      // d/dx = (2, 3, 4), as float64
        assertEquals(DType.FLOAT64, x.grad().dtype());
        assertArrayEquals(new double[] {2, 3, 4}, x.grad().toDoubleArray(), 0.0);
    }

    @Test
    void customFunctionRecordsItsRule() {
        Tensor x = Tensor.of(1f, 2f).requiresGrad(true);
        Tensor y = Autodiff.function("double", in -> in[0].mul(2), (in, out, g) -> new Tensor[] {g.mul(2)}, x);
        y.sum().backward();
        assertArrayEquals(new float[] {2, 2}, x.grad().toFloatArray());
    }
}
