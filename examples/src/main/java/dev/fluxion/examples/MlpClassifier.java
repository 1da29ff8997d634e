package dev.fluxion.examples;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.ReLU;
import dev.fluxion.nn.Sequential;
import dev.fluxion.optim.SGD;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

/**
 * An MLP on a generated classification task: points on three interleaved spirals, one class per arm.
 * A linear model gets about a third right; the MLP should exceed 95% test accuracy.
 * <pre>mvn -B -q -DskipTests -Ptrain verify -Dmain.class=dev.fluxion.examples.MlpClassifier -Dmain.args="--steps 2000"</pre>
 */
public final class MlpClassifier {
    public static void main(String[] args) {
        int steps = args.length >= 2 && args[0].equals("--steps") ? Integer.parseInt(args[1]) : 1500;
        System.out.printf("test accuracy %.1f%%%n", 100 * train(steps, true));
    }

    /** Trains on 3000 points and returns the accuracy on 600 held-out points. */
    static double train(int steps, boolean verbose) {
        var g = new Generator(11);
        Tensor[] trainSet = spirals(g, 3000), testSet = spirals(g, 600);
        Init init = Init.seed(12);
        var model = new Sequential(new Linear(2, 64, true, init), new ReLU(), new Linear(64, 64, true, init), new ReLU(), new Linear(64, 3, true, init));
        var opt = new SGD(model.parameters(), SGD.Config.DEFAULT.withLr(0.1).withMomentum(0.9).withNesterov(true));
        for (int step = 1; step <= steps; step++) {
            try (var scope = Scope.open()) {
                Tensor idx = Tensor.randint(g, 0, 3000, 128);                          // a random batch of 128 points
                Tensor loss = Losses.crossEntropy(model.forward(trainSet[0].indexSelect(0, idx)), trainSet[1].indexSelect(0, idx));
                opt.zeroGrad();
                loss.backward();
                opt.step();
                if (verbose && step % 250 == 0) System.out.printf("step %5d  loss %.4f  test accuracy %.1f%%%n", step, loss.item(), 100 * accuracy(model, testSet));
            }
        }
        return accuracy(model, testSet);
    }

    static double accuracy(Sequential model, Tensor[] set) {
        try (var off = Autodiff.noGrad(); var scope = Scope.open()) {
            return model.forward(set[0]).argmax(1, false).eq(set[1]).to(dev.fluxion.tensor.DType.FLOAT32).mean().item();
        }
    }

    /** n points (x, y) in [-1, 1]^2 on three spiral arms with a little noise, and their arm (int64). */
    static Tensor[] spirals(Generator g, int n) {
        float[] xy = new float[2 * n];
        long[] label = new long[n];
        for (int i = 0; i < n; i++) {
            int arm = (int) g.nextLong(0, 3);
            double r = g.nextDouble();
            double theta = 2 * Math.PI * arm / 3 + 4 * r + 0.15 * g.nextGaussian();
            xy[2 * i] = (float) (r * Math.cos(theta));
            xy[2 * i + 1] = (float) (r * Math.sin(theta));
            label[i] = arm;
        }
        return new Tensor[] {Tensor.of(xy, n, 2), Tensor.of(label, n)};
    }
}
