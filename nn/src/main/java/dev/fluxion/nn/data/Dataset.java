package dev.fluxion.nn.data;

import java.util.Objects;
import java.util.function.IntFunction;

/**
 * A map-style dataset, as torch.utils.data.Dataset: {@code size()} samples, sample {@code i} from {@code get(i)}.
 * A {@link DataLoader} with workers calls {@code get} from several threads at once, so it must be safe to
 * call concurrently (reading tensors and files is; mutating shared state is not).
 *
 * <pre>{@code
 * Dataset<Tensor> squares = Dataset.of(100, i -> Tensor.scalar(i * i));
 * }</pre>
 *
 * @param <T> the sample type: a Tensor, a List of tensors (as TensorDataset's), or anything a collate function takes
 */
public interface Dataset<T> {

    /** Sample {@code index}, {@code 0 <= index < size()}. */
    T get(int index);

    /** The number of samples. */
    int size();

    /** A dataset of {@code size} samples computed by {@code sample}. */
    static <T> Dataset<T> of(int size, IntFunction<T> sample) {
        if (size < 0) throw new IllegalArgumentException("Dataset.of: size must be >= 0, got " + size);
        Objects.requireNonNull(sample, "Dataset.of: sample is null");
        return new Dataset<>() {
            @Override public T get(int index) {
                if (index < 0 || index >= size) throw new IndexOutOfBoundsException("Dataset.get: index " + index + " out of range for size " + size);
                return sample.apply(index);
            }

            @Override public int size() { return size; }
        };
    }
}
