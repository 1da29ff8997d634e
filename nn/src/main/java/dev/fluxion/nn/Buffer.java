package dev.fluxion.nn;

import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

/**
 * A registered buffer (running statistics, masks): state of a {@link Module} that is saved and moved with
 * it but not trained. A subclass only so that {@link Module#to} can change its data in place, as it does
 * for a {@link Parameter}, and the field that holds it stays valid.
 */
final class Buffer extends Tensor {
    Buffer(Tensor data) {
        super(data.detach());
        Scope.escape(this);
    }

    void setData(Tensor data) { replaceData(data.detach()); }
}
