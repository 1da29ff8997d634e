package dev.fluxion.autodiff;

import dev.fluxion.tensor.FusedKernels;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;

/**
 * The rule of a fused op's tape entry. In a create-graph pass a backward that reads the forward's state
 * (log-sum-exp, mean and rstd) would give gradients with no graph through that state, silently wrong when
 * differentiated again; instead, when the entry saved every input, the op's composed forward is re-run with
 * recording on and differentiated with a graph (as a checkpoint would). A fused op that did not save every
 * input (layer norm keeps no bias) refuses, naming the op.
 */
final class FusedSecondOrder {
    private FusedSecondOrder() {}

    static Tensor[] backward(FusedOp op, boolean hasState, Saved s, Tensor g) {
        if (!hasState || !Engine.isGradEnabledNow()) return FusedKernels.backward(op, s, g);
        int n = s.inputCount();
        boolean[] needs = new boolean[n];
        for (int i = 0; i < n; i++) needs[i] = s.needsGrad(i);
        Save save = op.save(needs);
        Tensor[] in = new Tensor[n];
        for (int i = 0; i < n; i++) {
            if (!save.keepsInput(i))
                throw new UnsupportedOperationException(op.name() + ": no second derivative (its backward reads state its forward saved without a graph, "
                        + "and input " + i + " is not kept to recompute it); compute it with composite ops to use createGraph");
            in[i] = s.input(i);
        }
        int wanted = 0;
        for (boolean b : needs) if (b) wanted++;
        Tensor[] targets = new Tensor[wanted];
        for (int i = 0, k = 0; i < n; i++) if (needs[i]) targets[k++] = in[i];
        Tensor out = op.compose(in).output();                  // recorded: the composition's own entries link to in
        Tensor[] grads = FunctionalGrad.grad(new Tensor[] {out}, targets, new Tensor[] {g}, true, true, true);
        Tensor[] result = new Tensor[n];
        for (int i = 0, k = 0; i < n; i++) if (needs[i]) result[i] = grads[k++];
        return result;
    }
}
