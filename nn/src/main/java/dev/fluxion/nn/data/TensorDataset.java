package dev.fluxion.nn.data;

import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Tensors indexed along their first dimension, as torch.utils.data.TensorDataset: sample {@code i} is the list
 * of {@code t.select(0, i)} (views, no copy) for each tensor.
 *
 * <pre>{@code
 * var ds = new TensorDataset(x, y);            // x (N, 3), y (N)
 * List<Tensor> s = ds.get(5);                  // [x[5] (3), y[5] ()]
 * }</pre>
 *
 * The tensors must stay alive as long as the dataset is used: make them outside a step's scope, or pass them
 * through {@code Scope.escape}.
 */
public final class TensorDataset implements Dataset<List<Tensor>> {
    private final List<Tensor> tensors;
    private final int size;

    /** Refuses no tensors, a 0-dim tensor, or first dimensions that differ (naming each tensor's shape). */
    public TensorDataset(Tensor... tensors) {
        Objects.requireNonNull(tensors, "TensorDataset: tensors is null");
        if (tensors.length == 0) throw new IllegalArgumentException("TensorDataset: needs at least one tensor");
        for (int k = 0; k < tensors.length; k++) {
            Objects.requireNonNull(tensors[k], "TensorDataset: tensor " + k + " is null");
            if (tensors[k].dim() == 0) throw new IllegalArgumentException("TensorDataset: tensor " + k + " is 0-dim; each tensor needs a first dimension to index");
        }
        int n = tensors[0].size(0);
        for (Tensor t : tensors)
            if (t.size(0) != n) {
                List<String> shapes = new ArrayList<>();
                for (Tensor u : tensors) shapes.add(Arrays.toString(u.shape()));
                throw new IllegalArgumentException("TensorDataset: size mismatch between tensors: first dimensions must be equal, got shapes "
                        + String.join(", ", shapes));
            }
        this.tensors = List.of(tensors);
        this.size = n;
    }

    @Override public List<Tensor> get(int index) {
        if (index < 0 || index >= size) throw new IndexOutOfBoundsException("TensorDataset.get: index " + index + " out of range for size " + size);
        List<Tensor> out = new ArrayList<>(tensors.size());
        for (Tensor t : tensors) out.add(t.select(0, index));
        return out;
    }

    @Override public int size() { return size; }

    /** The tensors, in the order given. */
    public List<Tensor> tensors() { return tensors; }

    @Override public String toString() {
        StringBuilder sb = new StringBuilder("TensorDataset(size " + size + ":");
        for (Tensor t : tensors) sb.append(' ').append(Shape.str(t.shape())).append(' ').append(t.dtype());
        return sb.append(')').toString();
    }
}
