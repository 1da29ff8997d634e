package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/** A list of modules whose parameters are registered under their index; the owner decides how to call them. */
public final class ModuleList<M extends Module> extends Module implements Iterable<M> {
    private final List<M> items = new ArrayList<>();

    public ModuleList(List<M> modules) {
        for (M m : modules) add(m);
    }

    public void add(M m) {
        register(Integer.toString(items.size()), m);
        items.add(m);
    }

    public M get(int i) { return items.get(i); }

    public int size() { return items.size(); }

    @Override public Iterator<M> iterator() { return items.iterator(); }

    /** A ModuleList is a container: iterate it (as torch.nn.ModuleList, it has no forward of its own). */
    @Override public Tensor forward(Tensor x) {
        throw new IllegalStateException("ModuleList has no forward: iterate over it and call each module");
    }
}
