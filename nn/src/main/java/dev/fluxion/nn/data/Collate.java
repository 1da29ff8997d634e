package dev.fluxion.nn.data;

import dev.fluxion.tensor.Tensor;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Collate functions (a list of samples to a batch) as torch's default_collate, and the walk that finds the
 * tensors inside a batch (so a loader can hand a worker's batch to the caller's scope, or free it).
 *
 * <pre>{@code
 * Function<List<Tensor>, Tensor> c = Collate.stack();              // samples (3) -> batch (B, 3)
 * Function<List<List<Tensor>>, List<Tensor>> t = Collate.tuples(); // [(x, y)] -> [X (B, ...), Y (B, ...)]
 * }</pre>
 */
public final class Collate {
    private Collate() {}

    /** Stacks same-shape samples along a new first dimension: B samples of shape S give (B, S...). */
    public static Function<List<Tensor>, Tensor> stack() {
        return samples -> {
            if (samples.isEmpty()) throw new IllegalArgumentException("Collate.stack: no samples to stack");
            int[] shape = samples.get(0).shape();
            for (int i = 1; i < samples.size(); i++)
                if (!Arrays.equals(shape, samples.get(i).shape()))
                    throw new IllegalArgumentException("Collate.stack: samples of one batch must have equal shapes, got " + Arrays.toString(shape)
                            + " for sample 0 and " + Arrays.toString(samples.get(i).shape()) + " for sample " + i);
            return Tensor.stack(samples, 0);
        };
    }

    /** Stacks position k of every sample tuple into batch tensor k (TensorDataset's samples). */
    public static Function<List<List<Tensor>>, List<Tensor>> tuples() {
        Function<List<Tensor>, Tensor> stack = stack();
        return samples -> {
            if (samples.isEmpty()) throw new IllegalArgumentException("Collate.tuples: no samples to collate");
            int arity = samples.get(0).size();
            List<Tensor> out = new ArrayList<>(arity);
            for (int k = 0; k < arity; k++) {
                List<Tensor> column = new ArrayList<>(samples.size());
                for (int i = 0; i < samples.size(); i++) {
                    List<Tensor> s = samples.get(i);
                    if (s.size() != arity)
                        throw new IllegalArgumentException("Collate.tuples: samples of one batch must have equal lengths, got " + arity
                                + " for sample 0 and " + s.size() + " for sample " + i);
                    column.add(s.get(k));
                }
                out.add(stack.apply(column));
            }
            return List.copyOf(out);
        };
    }

    /**
     * Calls {@code action} on every tensor inside {@code batch}: a Tensor, and recursively the elements of
     * arrays, Iterables, Map values and record components. Other objects hold no tensors as far as a loader
     * knows (a batch type that hides tensors elsewhere leaves them to the garbage collector).
     */
    public static void forEachTensor(Object batch, Consumer<Tensor> action) {
        if (batch instanceof Tensor t) action.accept(t);
        else if (batch instanceof Object[] a) for (Object o : a) forEachTensor(o, action);
        else if (batch instanceof Iterable<?> it) for (Object o : it) forEachTensor(o, action);
        else if (batch instanceof Map<?, ?> m) for (Object o : m.values()) forEachTensor(o, action);
        else if (batch instanceof Record r) {
            for (RecordComponent c : r.getClass().getRecordComponents()) {
                try {
                    c.getAccessor().setAccessible(true);
                    forEachTensor(c.getAccessor().invoke(r), action);
                } catch (ReflectiveOperationException | RuntimeException e) {
                    // a record whose accessor cannot be called: its tensors are left to the GC, as documented
                }
            }
        }
    }
}
