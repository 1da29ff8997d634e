package dev.fluxion.parallel;

import dev.fluxion.nn.Parameter;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * A group of parameters of one dtype and device whose gradients travel together: one flat tensor, with a
 * view per parameter, all-reduced as soon as the last of its gradients is ready.
 */
final class Bucket {
    final int index;
    final Tensor flat;                  // (numel): the gradients of params, back to back
    final List<Parameter> params;
    final List<String> names;
    final List<Tensor> views;           // views.get(i) has params.get(i)'s shape, over flat
    final boolean[] ready;
    int pending;
    Work work;

    Bucket(int index, List<Parameter> params, List<String> names) {
        this.index = index;
        this.params = List.copyOf(params);
        this.names = List.copyOf(names);
        long numel = 0;
        for (Parameter p : params) numel += p.numel();
        if (numel > Integer.MAX_VALUE) throw new IllegalArgumentException("DistributedDataParallel: a bucket of " + numel + " elements is too large");
        DType dt = params.get(0).dtype();
        Device dev = params.get(0).device();
        this.flat = Scope.escape(Tensor.zeros(dt, dev, (int) numel));
        this.views = new ArrayList<>();
        int off = 0;
        for (Parameter p : params) {
            int n = (int) p.numel();                                  // the bucket's total is an int (checked above)
            views.add(Scope.escape(flat.narrow(0, off, n).view(p.shape())));
            off += n;
        }
        this.ready = new boolean[params.size()];
    }

    long bytes() { return flat.numel() * flat.dtype().byteSize(); }

    /** Forgets the last pass: every gradient is pending again. */
    void reset() {
        java.util.Arrays.fill(ready, false);
        pending = params.size();
        work = null;
    }
}
