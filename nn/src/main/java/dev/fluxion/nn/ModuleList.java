package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * A list of modules whose parameters are registered under their index; the owner decides how to call them.
 * Each element can be replaced by path ("blocks.2"); get and the iterator return the current ones. A
 * replacement must be an instance of the element type given to the constructor (Module if none was).
 */
public final class ModuleList<M extends Module> extends Module implements Iterable<M> {
    private final Class<M> type;
    private final List<Child<M>> items = new ArrayList<>();

    /** Elements may be replaced by any Module: declare it as {@code ModuleList<Module>} if they may. */
    @SuppressWarnings("unchecked")   // Module.class accepts every replacement; get() trusts the caller's M
    public ModuleList(List<? extends M> modules) { this((Class<M>) (Class<?>) Module.class, modules); }

    /** Replacements by path must be instances of type (say, to keep iterating as TransformerBlock). */
    public ModuleList(Class<M> type, List<? extends M> modules) {
        this.type = type;
        for (M m : modules) add(m);
    }

    /** Appends a module, registered under its index. */
    public void add(M m) { items.add(child(Integer.toString(items.size()), type, m)); }

    /** The module now at index i. */
    public M get(int i) { return items.get(i).get(); }

    /** The number of modules. */
    public int size() { return items.size(); }

    @Override public Iterator<M> iterator() { return items.stream().map(Child::get).iterator(); }

    /** A ModuleList is a container: iterate it (as torch.nn.ModuleList, it has no forward of its own). */
    @Override protected Tensor compute(Tensor... inputs) {
        throw new IllegalStateException("ModuleList has no forward: iterate over it and call each module");
    }
}
