package dev.fluxion.autodiff;

import dev.fluxion.tensor.MathFn;
import dev.fluxion.tensor.Op;
import dev.fluxion.tensor.Scans;
import dev.fluxion.tensor.Tensor;

import static dev.fluxion.tensor.Save.NOTHING;
import static dev.fluxion.tensor.Save.OUTPUT;
import static dev.fluxion.tensor.Save.inputs;

/**
 * Backward rules of the {@link MathFn} functions and of cumsum/cumprod, as PyTorch's derivatives.yaml
 * gives them; {@link Rules#of} dispatches here. Notation as in {@link Rules}.
 */
final class MathRules {
    private MathRules() {}

    private static final double TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

    static Rule of(Op.MathFunction m) {
        MathFn fn = m.fn();
        return switch (fn) {
            case LOG1P -> Rule.of(inputs(0), (s, g) -> new Tensor[] {g.div(s.input(0).add(1))});
            case EXPM1 -> Rule.of(OUTPUT, (s, g) -> new Tensor[] {g.mul(s.output().add(1))});
            case ERF -> Rule.of(inputs(0), (s, g) -> {                           // 2/sqrt(pi) exp(-x^2)
                Tensor x = s.input(0);
                return new Tensor[] {g.mul(x.mul(x).neg().exp().mul(TWO_OVER_SQRT_PI))};
            });
            case TAN -> Rule.of(OUTPUT, (s, g) -> new Tensor[] {g.mul(s.output().square().add(1))});
            case ATAN -> Rule.of(inputs(0), (s, g) -> new Tensor[] {g.div(s.input(0).square().add(1))});
            case FLOOR, CEIL, ROUND, TRUNC -> Rule.of(NOTHING, (s, g) -> new Tensor[] {Tensor.zerosLike(g)});
            case ATAN2 -> Rule.of(inputs(0, 1), (s, g) -> {                      // d/da = b/(a^2+b^2), d/db = -a/(a^2+b^2)
                Tensor a = s.input(0), b = s.input(1);
                Tensor r2 = a.square().add(b.square());
                return new Tensor[] {
                        s.needsGrad(0) ? g.mul(b).div(r2).sumTo(s.shape(0)) : null,
                        s.needsGrad(1) ? g.mul(a).div(r2).neg().sumTo(s.shape(1)) : null};
            });
            case FMOD -> Rule.of(needs -> needs[1] ? inputs(0, 1) : NOTHING, (s, g) -> new Tensor[] {   // d/db = -trunc(a/b)
                    s.needsGrad(0) ? g.sumTo(s.shape(0)) : null,
                    s.needsGrad(1) ? g.mul(s.input(0).div(s.input(1)).trunc()).neg().sumTo(s.shape(1)) : null});
        };
    }

    /** The gradient of a running sum is the running sum of the gradient taken from the end. */
    static Rule cumsum(Op.CumSum c) {
        return Rule.of(NOTHING, (s, g) -> new Tensor[] {g.flip(c.dim()).cumsum(c.dim()).flip(c.dim())});
    }

    /** Exact also where x has zeros (see {@link Scans#cumprodBackward}). */
    static Rule cumprod(Op.CumProd c) {
        return Rule.of(inputs(0), (s, g) -> new Tensor[] {Scans.cumprodBackward(s.input(0), g, c.dim())});
    }
}
