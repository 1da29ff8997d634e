package dev.fluxion.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One SGD update of several parameters (a multi-tensor step), as {@link AdamUpdate} is for Adam: a
 * non-differentiable {@link FusedOp} whose composed default below is the reference (tensor ops,
 * torch.optim.SGD's single-tensor path) and for which backends register fused kernels in {@link FusedKernels}
 * (the CPU's one-pass kernel); both give equal bits. Per element, in the parameter's dtype, each scalar rounded
 * to it once:
 * <pre>
 *   d   = grad + param * weightDecay                 (skipped when 0)
 *   buf = d                                          (first step with momentum)
 *   buf = buf * momentum + d * (1 - dampening)       (later steps; the product skipped when dampening is 0)
 *   d   = nesterov ? d + buf * momentum : buf        (when momentum != 0)
 *   param = param + d * -lr
 * </pre>
 * param and momentumBuffer are written in place; grad is only read.
 *
 * @param lr          the learning rate
 * @param momentum    0 for plain SGD (then no parameter has a momentum buffer)
 * @param dampening   scales the new gradient in the momentum buffer by 1 - dampening
 * @param weightDecay L2 penalty added to the gradient
 * @param nesterov    Nesterov momentum
 * @param params      the parameters with their gradients and momentum buffers
 */
public record SgdUpdate(double lr, double momentum, double dampening, double weightDecay, boolean nesterov, List<Param> params) implements FusedOp {
    public SgdUpdate {
        params = List.copyOf(params);
        for (int k = 0; k < params.size(); k++)
            if ((momentum != 0) != (params.get(k).momentumBuffer() != null))
                throw new IllegalArgumentException("SgdUpdate: parameter " + k + (momentum != 0
                        ? " has no momentum buffer, which momentum " + momentum + " needs" : " has a momentum buffer, but momentum is 0"));
    }

    /** Every tensor of the update (param, grad and momentum buffer of each parameter), for {@link #apply}. */
    public Tensor[] tensors() {
        List<Tensor> all = new ArrayList<>();
        for (Param p : params) {
            all.add(p.param());
            all.add(p.grad());
            if (p.momentumBuffer() != null) all.add(p.momentumBuffer());
        }
        return all.toArray(new Tensor[0]);
    }

    @Override public String name() { return "sgd_step"; }

    @Override public boolean differentiable() { return false; }

    @Override public void check(Tensor[] inputs) {
        for (int k = 0; k < params.size(); k++) {
            Param p = params.get(k);
            for (Tensor t : new Tensor[] {p.grad(), p.momentumBuffer()})
                if (t != null && !java.util.Arrays.equals(t.shape(), p.param().shape()))
                    throw new IllegalArgumentException("sgd_step: parameter " + k + " has shape " + Shape.str(p.param().shape())
                            + " but a gradient or momentum buffer of shape " + Shape.str(t.shape()));
        }
    }

    /** The reference: each parameter's update by tensor ops, written in place into param and its buffer. */
    @Override public Result compose(Tensor[] inputs) {
        for (Param p : params) {
            try (var scope = Scope.open()) {                   // bounds temporaries by one parameter
                Tensor grad = p.grad(), param = p.param(), buf = p.momentumBuffer();
                Tensor d = weightDecay != 0 ? grad.add(param.mul(weightDecay)) : grad;
                if (buf != null) {
                    Tensor next = p.firstStep() ? d : buf.mul(momentum).add(dampening != 0 ? d.mul(1 - dampening) : d);
                    buf.copy_(next);
                    d = nesterov ? d.add(next.mul(momentum)) : next;
                }
                param.copy_(param.add(d.mul(-lr)));
            }
        }
        return new Result(params.isEmpty() ? null : params.get(0).param());
    }

    @Override public Save save(boolean[] needsGrad) { throw new IllegalStateException("sgd_step has no gradient"); }

    @Override public Tensor[] backward(Saved saved, Tensor gradOutput) { throw new IllegalStateException("sgd_step has no gradient"); }

    /**
     * The tensors of one parameter, all of the parameter's shape.
     *
     * @param momentumBuffer null unless momentum != 0
     * @param firstStep      the buffer's first update: it is set to d (its old contents are not read)
     */
    public record Param(Tensor param, Tensor grad, Tensor momentumBuffer, boolean firstStep) {
        public Param {
            Objects.requireNonNull(param, "SgdUpdate.Param: param is null");
            Objects.requireNonNull(grad, "SgdUpdate.Param: grad is null");
        }
    }
}
