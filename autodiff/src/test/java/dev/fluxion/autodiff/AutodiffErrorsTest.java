package dev.fluxion.autodiff;

import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each misuse gets an error that says what went wrong. */
class AutodiffErrorsTest {
    @AfterEach
    void clearTape() { Autodiff.tape().clear(); }

    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) assertTrue(e.getMessage().contains(p), "message '" + e.getMessage() + "' should mention '" + p + "'");
    }

    @Test
    void backwardTwiceThroughReleasedTape() {
        Tensor w = Tensor.of(1f, 2f, 3f).requiresGrad(true);
        Tensor loss = w.mul(w).sum();
        loss.backward();
        var e = assertThrows(IllegalStateException.class, loss::backward);
        assertMessage(e, "already freed", "sum", "backward(gradient, true)");
    }

    /** The graph's intermediates were freed with the scope that made them: backward through them must refuse. */
    @Test
    void backwardThroughTensorsFreedByTheirScopeThrows() {
        Tensor w = Tensor.of(1f, 2f, 3f).requiresGrad(true);
        Tensor loss;
        try (var scope = dev.fluxion.tensor.Scope.open()) {
            Tensor h = w.mul(w);
            loss = scope.keep(h.exp().sum());
        }
        var e = assertThrows(IllegalStateException.class, loss::backward);
        assertMessage(e, "float32", "freed (by its Scope closed)", "scope.keep");
    }

    @Test
    void backwardFromAClosedRootThrows() {
        Tensor w = Tensor.of(1f, 2f).requiresGrad(true);
        Tensor loss = w.mul(w).sum();
        loss.close();
        var e = assertThrows(IllegalStateException.class, loss::backward);
        assertMessage(e, "freed (by close())");
    }

    @Test
    void retainGraphAllowsASecondBackwardAndAccumulates() {
        Tensor w = Tensor.of(1f, 2f, 3f).requiresGrad(true);
        Tensor loss = w.mul(w).sum();
        loss.backward(Tensor.onesLike(loss), true);
        loss.backward();
        assertTrue(java.util.Arrays.equals(new float[] {4, 8, 12}, w.grad().toFloatArray()), "2 * 2w accumulated over two passes");
    }

    @Test
    void backwardOnNonScalarNeedsAGradient() {
        Tensor w = Tensor.ones(2, 3).requiresGrad(true);
        var e = assertThrows(IllegalArgumentException.class, () -> w.mul(2).backward());
        assertMessage(e, "[2, 3]", "backward(gradient)");
    }

    @Test
    void gradientShapeMustMatch() {
        Tensor w = Tensor.ones(2, 3).requiresGrad(true);
        var e = assertThrows(IllegalArgumentException.class, () -> w.mul(2).backward(Tensor.ones(3, 2)));
        assertMessage(e, "gradient shape [3, 2]", "output shape [2, 3]");
    }

    @Test
    void savedTensorModifiedInPlaceIsRefused() {
        Tensor w = Tensor.of(1f, 2f).requiresGrad(true);
        Tensor x = Tensor.of(3f, 4f);
        Tensor loss = w.mul(x).sum();
        x.fill_(0);                                     // x was saved by mul: its gradient for w would be wrong
        var e = assertThrows(IllegalStateException.class, loss::backward);
        assertMessage(e, "mul", "modified in place", "version 0 -> 1");
    }

    @Test
    void backwardOnTensorWithoutGraph() {
        var e = assertThrows(IllegalStateException.class, () -> Tensor.ones(1).backward());
        assertMessage(e, "does not require grad");
    }

    @Test
    void inPlaceWriteIntoLeafThatRequiresGradIsRefused() {
        Tensor w = Tensor.ones(2).requiresGrad(true);
        var e = assertThrows(IllegalStateException.class, () -> w.fill_(3));
        assertMessage(e, "fill_", "requires grad", "noGrad");
        try (var off = Autodiff.noGrad()) {
            w.fill_(3);                                  // allowed when not recording (optimizer updates)
        }
        assertTrue(w.toFloatArray()[0] == 3f);
    }

    @Test
    void integerTensorsCannotRequireGrad() {
        var e = assertThrows(IllegalArgumentException.class, () -> Tensor.arange(3).requiresGrad(true));
        assertMessage(e, "floating-point", "int64");
    }
}
