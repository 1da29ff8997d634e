package dev.fluxion.autodiff;

import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Tensor;

import java.util.Optional;
import java.util.function.Function;

/** Gradient checkpointing: trade compute for memory by recomputing a segment during backward. */
final class Checkpoint {
    private Checkpoint() {}

    static Tensor run(Function<Tensor[], Tensor> segment, Tensor[] inputs) {
        // backward runs with autocast off; the recomputation must see the forward's scope to rebuild the same graph
        Optional<DType> autocast = Autocast.current();
        int[] every = new int[inputs.length];
        for (int i = 0; i < every.length; i++) every[i] = i;
        Rule recompute = Rule.of(Save.inputs(every), (s, g) -> {     // the inputs only: the segment's insides are recomputed
            Tensor[] x = Autodiff.savedInputs(s);
            Tensor[] fresh = new Tensor[x.length];
            for (int i = 0; i < x.length; i++) {
                fresh[i] = x[i].detach();
                if (x[i].requiresGrad()) fresh[i].requiresGrad(true);
            }
            Tensor out;
            try (var on = Autodiff.enableGrad(); var ac = autocast.isPresent() ? Autocast.open(autocast.get()) : Autocast.disabled()) {
                out = segment.apply(fresh);
            }
            if (out.requiresGrad()) out.backward(g);
            Tensor[] grads = new Tensor[x.length];
            for (int i = 0; i < x.length; i++) grads[i] = fresh[i].grad();
            return grads;
        });
        return Autodiff.function("checkpoint", segment, recompute, inputs);
    }
}
