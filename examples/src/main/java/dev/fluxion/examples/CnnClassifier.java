package dev.fluxion.examples;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Conv2d;
import dev.fluxion.nn.Flatten;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.MaxPool2d;
import dev.fluxion.nn.ReLU;
import dev.fluxion.nn.Sequential;
import dev.fluxion.optim.Adam;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

/**
 * A small CNN on generated 16x16 images of four classes: a horizontal bar, a vertical bar, a square
 * outline and a diagonal, each placed at random with noise. Should exceed 95% test accuracy.
 * <pre>mvn -B -q -DskipTests -Ptrain verify -Dmain.class=dev.fluxion.examples.CnnClassifier</pre>
 */
public final class CnnClassifier {
    static final int SIZE = 16, CLASSES = 4;

    public static void main(String[] args) {
        int steps = args.length >= 2 && args[0].equals("--steps") ? Integer.parseInt(args[1]) : 300;
        System.out.printf("test accuracy %.1f%%%n", 100 * train(steps, true));
    }

    static Sequential model(Init init) {
        return new Sequential(
                new Conv2d(1, 8, 3, 1, 1, true, init), new ReLU(), new MaxPool2d(2, 2),     // (N, 8, 8, 8)
                new Conv2d(8, 16, 3, 1, 1, true, init), new ReLU(), new MaxPool2d(2, 2),    // (N, 16, 4, 4)
                new Flatten(), new Linear(16 * 4 * 4, CLASSES, true, init));
    }

    static double train(int steps, boolean verbose) {
        var g = new Generator(21);
        Tensor[] testSet = images(g, 400);
        var model = model(Init.seed(22));
        var opt = new Adam(model.parameters(), Adam.Config.DEFAULT.withLr(3e-3));
        for (int step = 1; step <= steps; step++) {
            try (var scope = Scope.open()) {
                Tensor[] b = images(g, 32);
                Tensor loss = Losses.crossEntropy(model.forward(b[0]), b[1]);
                opt.zeroGrad();
                loss.backward();
                opt.step();
                if (verbose && step % 50 == 0) System.out.printf("step %4d  loss %.4f  test accuracy %.1f%%%n", step, loss.item(), 100 * accuracy(model, testSet));
            }
        }
        return accuracy(model, testSet);
    }

    static double accuracy(Sequential model, Tensor[] set) {
        try (var off = Autodiff.noGrad(); var scope = Scope.open()) {
            return model.forward(set[0]).argmax(1, false).eq(set[1]).to(DType.FLOAT32).mean().item();
        }
    }

    /** n images (N, 1, 16, 16) and labels: 0 horizontal bar, 1 vertical bar, 2 square outline, 3 diagonal. */
    static Tensor[] images(Generator g, int n) {
        float[] px = new float[n * SIZE * SIZE];
        long[] label = new long[n];
        for (int i = 0; i < n; i++) {
            int c = (int) g.nextLong(0, CLASSES), base = i * SIZE * SIZE;
            int a = (int) g.nextLong(2, SIZE - 6), b = (int) g.nextLong(2, SIZE - 6), len = (int) g.nextLong(4, 6);
            for (int k = 0; k < len; k++) {
                switch (c) {
                    case 0 -> px[base + a * SIZE + b + k] = 1;
                    case 1 -> px[base + (a + k) * SIZE + b] = 1;
                    case 2 -> {
                        px[base + a * SIZE + b + k] = 1; px[base + (a + len - 1) * SIZE + b + k] = 1;
                        px[base + (a + k) * SIZE + b] = 1; px[base + (a + k) * SIZE + b + len - 1] = 1;
                    }
                    default -> px[base + (a + k) * SIZE + b + k] = 1;
                }
            }
            for (int p = 0; p < SIZE * SIZE; p++) px[base + p] += (float) (0.2 * g.nextGaussian());
            label[i] = c;
        }
        return new Tensor[] {Tensor.of(px, n, 1, SIZE, SIZE), Tensor.of(label, n)};
    }
}
