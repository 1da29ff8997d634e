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
