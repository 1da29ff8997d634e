package dev.fluxion.autodiff;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Finite-difference gradient check in float64: the analytic gradient from backward() against central
 * differences of loss = sum(f(inputs) * r) for a fixed random r (so every output element matters).
 */
final class GradCheck {
    private GradCheck() {}

    static void check(String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
        check(name, f, 1e-6, 1e-5, 1e-6, inputs);
    }

    static void check(String name, Function<Tensor[], Tensor> f, double eps, double rtol, double atol, Tensor... inputs) {
        Tensor[] leaves = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            leaves[i] = inputs[i].dtype() == DType.FLOAT64 ? inputs[i].detach().copy() : inputs[i];
            if (leaves[i].dtype() == DType.FLOAT64) leaves[i].requiresGrad(true);
        }
        Tensor out = f.apply(leaves);
        Tensor r = Tensor.randn(new Generator(99), DType.FLOAT64, out.shape());
        out.mul(r).sum().backward();
        for (int i = 0; i < leaves.length; i++) {
            if (!leaves[i].requiresGrad()) continue;
            double[] analytic = leaves[i].grad() == null ? new double[(int) leaves[i].numel()] : leaves[i].grad().toDoubleArray();
            double[] base = leaves[i].toDoubleArray();
            for (int k = 0; k < base.length; k++) {
                double plus = lossWith(f, leaves, i, base, k, eps, r), minus = lossWith(f, leaves, i, base, k, -eps, r);
                double numeric = (plus - minus) / (2 * eps);
                if (Math.abs(analytic[k] - numeric) > atol + rtol * Math.abs(numeric))
                    fail(name + ": input " + i + " element " + k + ": analytic " + analytic[k] + " vs numeric " + numeric);
            }
        }
    }

    private static double lossWith(Function<Tensor[], Tensor> f, Tensor[] leaves, int which, double[] base, int k, double delta, Tensor r) {
        double[] v = base.clone();
        v[k] += delta;
        Tensor[] args = leaves.clone();
        args[which] = Tensor.of(v, leaves[which].shape());
        try (var off = Autodiff.noGrad()) {
            return f.apply(args).mul(r).sum().item();
        }
    }
}
