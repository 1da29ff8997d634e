package dev.fluxion.autodiff;

import dev.fluxion.tensor.Storage;
import dev.fluxion.tensor.Tensor;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * The calling thread's Wengert list: the entries recorded since the last backward, in forward order.
 * Entries are held weakly: the graph lives as long as its output tensors do, so a forward pass that is
 * never backpropagated (evaluation without noGrad) does not leak. Print it to see a step's ops.
 */
public final class Tape {
    private final List<WeakReference<Entry>> entries = new ArrayList<>();
    private int appendsSincePrune;

    void append(Entry e) {
        entries.add(new WeakReference<>(e));
        if (++appendsSincePrune >= 4096) prune();
    }

    private void prune() {
        appendsSincePrune = 0;
        entries.removeIf(r -> { Entry e = r.get(); return e == null || e.isReleased(); });
    }

    /** Live (not yet released) entries in forward order. */
    List<Entry> live() {
        prune();
        List<Entry> out = new ArrayList<>();
        for (WeakReference<Entry> r : entries) { Entry e = r.get(); if (e != null) out.add(e); }
        return out;
    }

    /** Number of entries not yet released by a backward pass. */
    public int size() { return live().size(); }

    /** Tensors the live entries keep for their rules (what each rule saved, counted per entry). */
    public int savedTensorCount() {
        int n = 0;
        for (Entry e : live()) n += e.saved().size();
        return n;
    }

    /**
     * Bytes the live entries keep alive for backward: the sizes of the distinct storages under the tensors
     * their rules saved (a parameter's storage counts when a rule saved it, as matmul saves its weight).
     */
    public long savedBytes() {
        Set<Storage> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        long n = 0;
        for (Entry e : live()) for (Tensor t : e.saved()) if (seen.add(t.storage())) n += t.storage().nbytes();
        return n;
    }

    /** Drops every entry (for tests and between unrelated computations). */
    public void clear() {
        for (Entry e : live()) e.release();
        entries.clear();
    }

    /** One line per entry: index, op, input shapes and dtypes, output shape and dtype. */
    @Override public String toString() {
        List<Entry> live = live();
        StringBuilder sb = new StringBuilder("Tape (" + live.size() + " entries)\n");
        for (Entry e : live) sb.append("  ").append(e).append('\n');
        return sb.toString();
    }
}
