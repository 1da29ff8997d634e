package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The losses' gradients against float64 central differences (away from kinks), and their argument errors. */
class LossesGradCheckTest {
    private static final Generator G = new Generator(7);

    /** Analytic gradient of sum(f(x) * r) against central differences, for every element of x. */
    static void check(String name, Function<Tensor, Tensor> f, Tensor x0) {
        Tensor x = x0.detach().copy().requiresGrad(true);
        Tensor out = f.apply(x);
        Tensor r = Tensor.randn(new Generator(99), DType.FLOAT64, out.shape());
        out.mul(r).sum().backward();
        double[] analytic = x.grad().toDoubleArray(), base = x0.toDoubleArray();
        double eps = 1e-6;
        for (int k = 0; k < base.length; k++) {
            double[] p = base.clone(), m = base.clone();
            p[k] += eps;
            m[k] -= eps;
            double numeric;
            try (var off = Autodiff.noGrad()) {
                numeric = (f.apply(Tensor.of(p, x0.shape())).mul(r).sum().item() - f.apply(Tensor.of(m, x0.shape())).mul(r).sum().item()) / (2 * eps);
            }
            if (Math.abs(analytic[k] - numeric) > 1e-6 + 1e-5 * Math.abs(numeric))
                fail(name + ": element " + k + ": analytic " + analytic[k] + " vs numeric " + numeric);
        }
    }

    private static Tensor randn(int... shape) { return Tensor.randn(G, DType.FLOAT64, shape); }

    @Test void crossEntropyWithEveryOption() {
        Tensor y = Tensor.of(new long[] {0, 2, -100, 1, 2, 0, 1, 1}, 2, 2, 2);
        Tensor w = Tensor.of(new double[] {0.5, 1.5, 2.0}, 3);
        for (Reduction r : new Reduction[] {Reduction.MEAN, Reduction.SUM, Reduction.NONE}) {
            var o = CrossEntropy.Options.DEFAULT.withWeight(w).withLabelSmoothing(0.2).withReduction(r);
            check("crossEntropy " + r, x -> Losses.crossEntropy(x, y, o), randn(2, 3, 2, 2));
            check("crossEntropy classDim -1 " + r, x -> Losses.crossEntropy(x, y, o.withClassDim(-1)), randn(2, 2, 2, 3));
        }
        Tensor probs = randn(2, 3, 2).softmax(1);
        check("crossEntropy probability targets", x -> Losses.crossEntropy(x, probs, CrossEntropy.Options.DEFAULT.withWeight(w).withLabelSmoothing(0.1)), randn(2, 3, 2));
        check("crossEntropy fused", x -> Losses.crossEntropy(x, Tensor.of(new long[] {0, 2, -100}, 3), 100 - 200, 0.1), randn(3, 3));
    }

    @Test void pointwiseLosses() {
        Tensor t = randn(3, 4);
        for (Reduction r : new Reduction[] {Reduction.MEAN, Reduction.SUM, Reduction.NONE}) {
            check("mse " + r, x -> Losses.mse(x, t, r), randn(3, 4));
            check("l1 " + r, x -> Losses.l1(x, t, r), randn(3, 4));
            check("smoothL1 " + r, x -> Losses.smoothL1(x, t, 0.8, r), randn(3, 4));
            check("huber " + r, x -> Losses.huber(x, t, 0.6, r), randn(3, 4));
            check("klDiv " + r, x -> Losses.klDiv(x, t.softmax(1), r, false), randn(3, 4).logSoftmax(1));
            check("klDiv log target " + r, x -> Losses.klDiv(t.logSoftmax(1), x, r, true), randn(3, 4));
            Tensor y = randn(3, 4).sigmoid(), pw = Tensor.of(new double[] {0.5, 1, 2, 3}, 4), w = Tensor.of(new double[] {1, 2, 0.5, 1}, 4);
            check("bceWithLogits " + r, x -> Losses.bceWithLogits(x, y, w, pw, r), randn(3, 4).mul(3));
            check("bceWithLogits wrt target " + r, yy -> Losses.bceWithLogits(t, yy, null, pw, r), y);
        }
        check("klDiv batchmean", x -> Losses.klDiv(x, t.softmax(1), Reduction.BATCHMEAN, false), randn(3, 4).logSoftmax(1));
    }

    @Test void reductionsOfEmptyLossesAreZeroAndNaN() {
        Tensor e = Tensor.zeros(DType.FLOAT64, 0, 3);
        assertEquals(0.0, Losses.mse(e, e, Reduction.SUM).item());
        assertTrue(Double.isNaN(Losses.mse(e, e, Reduction.MEAN).item()));
        assertEquals(0, Losses.l1(e, e, Reduction.NONE).numel());
    }

    @Test void errorsNameTheLossAndTheValues() {
        Tensor x = randn(4, 3);
        var e = assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropy(x, Tensor.of(new long[] {0, 1, 2}, 3), CrossEntropy.Options.DEFAULT));
        assertTrue(e.getMessage().contains("crossEntropy") && e.getMessage().contains("[4]"), e.getMessage());
        var oob = assertThrows(IndexOutOfBoundsException.class, () -> Losses.crossEntropy(x, Tensor.of(new long[] {0, 1, 3, 0}, 4), CrossEntropy.Options.DEFAULT));
        assertTrue(oob.getMessage().contains("target 3 at position 2"), oob.getMessage());
        var w = assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropy(x, Tensor.of(new long[] {0, 1, 2, 0}, 4),
                CrossEntropy.Options.DEFAULT.withWeight(Tensor.ones(DType.FLOAT64, 4))));
        assertTrue(w.getMessage().contains("4 entries for 3 classes"), w.getMessage());
        var bm = assertThrows(IllegalArgumentException.class, () -> Losses.mse(x, x, Reduction.BATCHMEAN));
        assertTrue(bm.getMessage().contains("mse") && bm.getMessage().contains("klDiv"), bm.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Losses.huber(x, x, 0, Reduction.MEAN));
        var pw = assertThrows(IllegalArgumentException.class, () -> Losses.bceWithLogits(x, x, null, Tensor.ones(DType.FLOAT64, 4), Reduction.MEAN));
        assertTrue(pw.getMessage().contains("posWeight [4]"), pw.getMessage());
    }
}
