package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/** Applies its children in order: {@code new Sequential(new Linear(...), new Activation.ReLU(), new Linear(...))}. */
public final class Sequential extends Module {
    private final Module[] layers;

    public Sequential(Module... layers) {
        this.layers = layers.clone();
        for (int i = 0; i < layers.length; i++) register(Integer.toString(i), layers[i]);
    }

    public Module get(int i) { return layers[i]; }

    public int size() { return layers.length; }

    @Override public Tensor forward(Tensor x) {
        for (Module m : layers) x = m.forward(x);
        return x;
    }
}
