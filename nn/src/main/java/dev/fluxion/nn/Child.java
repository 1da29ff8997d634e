package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/**
 * A replaceable child of a {@link Module}: the parent keeps this handle in a field and reads the module
 * through it at every forward, so {@link Module#setSubmodule} (LoRA wrapping a Linear, FSDP wrapping a
 * block) takes effect without the parent knowing. Made by {@code child(name, module)} in a constructor:
 *
 * <pre>{@code
 * private final Child<Module> qkv;                        // C -> 3C
 * this.qkv = child("qkv", new Linear(width, 3 * width, true, init));
 * ...
 * Tensor y = qkv.forward(x);                              // whatever module holds the path now
 * }</pre>
 *
 * A replacement must be an instance of the type the child was declared with ({@code Module} unless the
 * parent asked for more), and is not otherwise checked: it should accept and return the same shapes.
 */
public final class Child<M extends Module> {
    private final Class<? extends Module> type;
    private final boolean replaceable;
    private M module;

    Child(String name, Class<? extends Module> type, M module, boolean replaceable) {
        if (module == null) throw new IllegalArgumentException("child '" + name + "': module is null");
        this.type = type;
        this.replaceable = replaceable;
        this.module = module;
    }

    /** The module this child holds now. */
    public M get() { return module; }

    /** get().forward(x): hooks of the current module run. */
    public Tensor forward(Tensor x) { return module.forward(x); }

    /** get().forward(inputs) for modules that take several inputs (a mask, an encoder state). */
    public Tensor forward(Tensor... inputs) { return module.forward(inputs); }

    boolean replaceable() { return replaceable; }

    Class<? extends Module> type() { return type; }

    @SuppressWarnings("unchecked")   // checked against type, which M's declaration promises
    void set(Module replacement) { module = (M) type.cast(replacement); }
}
