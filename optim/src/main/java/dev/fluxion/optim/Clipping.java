package dev.fluxion.optim;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** Gradient clipping. */
public final class Clipping {
    private Clipping() {}

    /**
     * Scales the gradients of params in place so that their global L2 norm (as if all were concatenated into
     * one vector) is at most maxNorm, as torch.nn.utils.clip_grad_norm_ with norm_type 2:
     * {@code total = ||(||g_1||, ..., ||g_n||)||}, each gradient multiplied by {@code min(1, maxNorm / (total + 1e-6))}.
     * Parameters without a gradient are skipped. Nothing is read back to the host: the coefficient stays a
     * tensor, so no device synchronisation happens.
     *
     * <pre>{@code
     * loss.backward();
     * Tensor norm = Clipping.clipGradNorm(model.parameters(), 1.0);
     * opt.step();
     * }</pre>
     *
     * @return the total norm before clipping (0-dim, the gradients' dtype; float32 0 when there are no gradients)
     */
    @SuppressWarnings("try")   // scopes used only for what closing them does
    public static Tensor clipGradNorm(Iterable<? extends Tensor> params, double maxNorm) {
        Objects.requireNonNull(params, "clipGradNorm: params is null");
        if (!(maxNorm >= 0)) throw new IllegalArgumentException("clipGradNorm: maxNorm must be >= 0, got " + maxNorm);
        List<Tensor> grads = new ArrayList<>();
        for (Tensor p : params) if (p.grad() != null) grads.add(p.grad());
        if (grads.isEmpty()) return Tensor.scalar(0);
        DType dtype = commonDtype(grads);
        Device device = grads.get(0).device();
        try (var off = Autodiff.noGrad()) {
            List<Tensor> norms = new ArrayList<>(grads.size());
            for (Tensor g : grads) norms.add(g.norm(2).to(device).to(dtype));
            Tensor total = Tensor.stack(norms, 0).norm(2);
            Tensor coef = Tensor.full(maxNorm, dtype, device).div(total.add(1e-6)).clampMax(1.0);
            for (Tensor g : grads) g.copy_(g.mul(coef.to(g.device()).to(g.dtype())));
            return total;
        }
    }

    /** The gradients' dtype when they share one, else the widest float (float64 if present, else float32). */
    private static DType commonDtype(List<Tensor> grads) {
        DType first = grads.get(0).dtype();
        boolean same = true, any64 = false;
        for (Tensor g : grads) {
            same &= g.dtype() == first;
            any64 |= g.dtype() == DType.FLOAT64;
        }
        return same ? first : any64 ? DType.FLOAT64 : DType.FLOAT32;
    }
}
