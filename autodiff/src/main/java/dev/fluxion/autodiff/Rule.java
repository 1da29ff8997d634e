package dev.fluxion.autodiff;

import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;

import java.util.function.Function;

/**
 * A backward rule and what it keeps: at forward time {@link #save} picks the inputs (and output) the tape
 * entry holds, given which inputs need gradients; at backward time {@link #backward} sees only those.
 */
interface Rule {
    Save save(boolean[] needsGrad);

    /** One gradient per input, null where none is needed. Runs with recording off. */
    Tensor[] backward(Saved s, Tensor g);

    /**
     * True for a rule a user wrote ({@link Autodiff#function}): it may keep the gradients it returns, so the
     * engine never makes one of them a leaf's gradient without copying it.
     */
    default boolean userDefined() { return false; }

    /** rule, marked as written by a user. */
    static Rule userDefined(Rule rule) {
        return new Rule() {
            @Override public Save save(boolean[] needsGrad) { return rule.save(needsGrad); }
            @Override public Tensor[] backward(Saved s, Tensor g) { return rule.backward(s, g); }
            @Override public boolean userDefined() { return true; }
        };
    }

    /** The gradient computation alone, for {@link #of}. */
    @FunctionalInterface
    interface Backward { Tensor[] apply(Saved s, Tensor g); }

    /** A rule that always keeps the same things. */
    static Rule of(Save save, Backward backward) { return of(needs -> save, backward); }

    /** A rule whose saved tensors depend on which inputs need gradients. */
    static Rule of(Function<boolean[], Save> save, Backward backward) {
        return new Rule() {
            @Override public Save save(boolean[] needsGrad) { return save.apply(needsGrad); }
            @Override public Tensor[] backward(Saved s, Tensor g) { return backward.apply(s, g); }
        };
    }

    /** For a binary op whose input gradients each need the other input (mul, matmul): keeps b for a's gradient, a for b's. */
    static Rule crossed(Backward backward) {
        return of(needs -> needs[0] && needs[1] ? Save.inputs(0, 1) : needs[0] ? Save.inputs(1) : needs[1] ? Save.inputs(0) : Save.NOTHING, backward);
    }
}
