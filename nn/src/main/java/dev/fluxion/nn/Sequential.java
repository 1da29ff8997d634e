package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Applies its children in order: {@code new Sequential(new Linear(...), new Activation.ReLU(), new Linear(...))}.
 * The first child receives all inputs; each later one the previous output. Children are replaceable by
 * path ("mlp.0").
 */
public final class Sequential extends Module {
    private final List<Child<Module>> layers = new ArrayList<>();

    /** The layers in the order forward calls them, registered as "0", "1", ... */
    public Sequential(Module... layers) {
        for (int i = 0; i < layers.length; i++) this.layers.add(child(Integer.toString(i), layers[i]));
    }

    /** The module at position i now. */
    public Module get(int i) { return layers.get(i).get(); }

    /** The number of modules. */
    public int size() { return layers.size(); }

    @Override protected Tensor compute(Tensor... inputs) {
        if (layers.isEmpty()) {
            checkInputs(inputs, 1, 1);
            return inputs[0];
        }
        Tensor x = layers.get(0).forward(inputs);
        for (int i = 1; i < layers.size(); i++) x = layers.get(i).forward(x);
        return x;
    }
}
