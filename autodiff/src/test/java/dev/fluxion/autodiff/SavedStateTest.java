package dev.fluxion.autodiff;

import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A tape entry keeps what its rule saved and nothing else; saved tensors are still guarded against in-place writes. */
class SavedStateTest {
    @AfterEach
    void clearTape() { Autodiff.tape().clear(); }

    private static int keptBy(Runnable forward) {
        Autodiff.tape().clear();
        forward.run();
        return Autodiff.tape().savedTensorCount();
    }

    @Test
    void eachOpKeepsOnlyWhatItsRuleNeeds() {
        Tensor w = Tensor.of(1f, -2f, 3f).requiresGrad(true), c = Tensor.of(4f, 5f, 6f);
        assertEquals(0, keptBy(() -> w.add(c)), "add keeps nothing but shapes");
        assertEquals(0, keptBy(() -> w.reshape(3, 1)), "reshape keeps nothing");
        assertEquals(1, keptBy(() -> w.exp()), "exp keeps its output");
        assertEquals(1, keptBy(() -> w.relu()), "relu keeps its output");
        assertEquals(1, keptBy(() -> w.mul(c)), "w * c keeps c alone: w's gradient is g * c, c needs none");
        assertEquals(2, keptBy(() -> w.mul(w.detach().requiresGrad(true))), "when both need gradients mul keeps both");
        assertEquals(4, keptBy(() -> w.reshape(1, 3).layerNorm(Tensor.ones(3), Tensor.zeros(3), 1e-5)), "layer norm keeps x, weight, mean and rstd, not bias");
    }

    @Test
    void aSavedOutputWrittenInPlaceIsRefused() {
        Tensor w = Tensor.of(1f, 2f).requiresGrad(true);
        Tensor y = w.exp();
        Tensor loss = y.sum();
        try (var off = Autodiff.noGrad()) {
            y.fill_(0);
        }
        var e = assertThrows(IllegalStateException.class, loss::backward);
        assertTrue(e.getMessage().contains("output of 'exp'") && e.getMessage().contains("modified in place"), e.getMessage());
    }

    @Test
    void anInputNotSavedIsNotCheckedAndGradientsStayRight() {
        Tensor w = Tensor.of(1f, 2f).requiresGrad(true), c = Tensor.of(3f, 4f);
        Tensor loss = w.add(c).sum();
        c.fill_(0);                                      // add saved nothing of c: its gradient does not depend on it
        loss.backward();
        assertArrayEquals(new float[] {1, 1}, w.grad().toFloatArray());
    }

    @Test
    void aRuleReadingWhatItDidNotSaveGetsAnErrorNamingTheOp() {
        Tensor x = Tensor.of(1f, 2f).requiresGrad(true);
        Rule forgetful = Rule.of(Save.NOTHING, (s, g) -> new Tensor[] {g.mul(s.input(0))});
        Tensor y = Autodiff.function("forgetful", in -> in[0].mul(2), forgetful, new Tensor[] {x});
        var e = assertThrows(IllegalStateException.class, () -> y.sum().backward());
        assertTrue(e.getMessage().contains("'forgetful' read input 0, which its forward did not save"), e.getMessage());
    }

    @Test
    void keepAllInputsKeepsEveryInputAndOutput() {
        Tensor w = Tensor.of(1f, 2f).requiresGrad(true), c = Tensor.of(3f, 4f);
        try (var all = Autodiff.keepAllInputs()) {
            assertEquals(3, keptBy(() -> w.add(c)));
        }
        assertEquals(0, keptBy(() -> w.add(c)));
    }
}
