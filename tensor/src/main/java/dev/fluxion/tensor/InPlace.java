package dev.fluxion.tensor;

/**
 * In-place writes, for optimizers, initialisation and buffers. They are not recorded on the tape: writing
 * into a leaf that requires gradients while gradients are recorded is an error, and every write bumps the
 * storage's version so that autodiff refuses tensors it saved before the write.
 */
final class InPlace {
    private InPlace() {}

    private static void check(String op, Tensor dst) {
        if (dst.requiresGrad() && Autograd.shouldRecord(dst))
            throw new IllegalStateException(op + ": in-place write into a tensor that requires grad while gradients are recorded; "
                    + "wrap the update in a noGrad scope or use detach()");
        dst.storage();                             // a freed tensor refuses the write, naming how it was freed
    }

    static Tensor copy(Tensor dst, Tensor src) {
        check("copy_", dst);
        Elementwise.checkDevice("copy_", dst, src);
        int[] b = Shape.broadcast("copy_", dst.shape(), src.shape());
        if (!java.util.Arrays.equals(b, dst.shape()))
            throw new IllegalArgumentException("copy_: source shape " + Shape.str(src.shape()) + " does not broadcast to destination shape " + Shape.str(dst.shape()));
        Tensor from = Views.expandRaw(src, dst.shape());
        if (src.storage() == dst.storage()) {      // overlap: the chunked kernel would read elements it already wrote
            Tensor staged = Views.copyRaw(from);
            dst.backend().copy(staged, dst);
            staged.close();
        } else {
            dst.backend().copy(from, dst);
        }
        dst.storage().bumpVersion();
        return dst;
    }

    static Tensor fill(Tensor dst, double value) {
        check("fill_", dst);
        if (!dst.dtype().canHold(value))
            throw new IllegalArgumentException("fill_: value " + value + " does not fit dtype " + dst.dtype());
        dst.backend().fill(dst, value);
        dst.storage().bumpVersion();
        return dst;
    }
}
