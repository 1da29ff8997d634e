package dev.fluxion.examples;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;

/**
 * A tour of the tensor engine: least-squares regression solved by gradient descent with hand-written
 * gradients, then the same matrix products timed at a few sizes. Run: {@code mvn -B -q -DskipTests -Ptrain verify}.
 */
public final class TensorTour {
    public static void main(String[] args) {
        var g = new Generator(7);
        int n = 4096, d = 64;
        Tensor x = Tensor.randn(g, n, d);                          // [n, d]
        Tensor trueW = Tensor.randn(g, d, 1);                      // [d, 1]
        Tensor y = x.matmul(trueW).add(Tensor.randn(g, n, 1).mul(0.01)); // [n, 1]
        Tensor w = Tensor.zeros(d, 1);
        double lr = 0.1;
        for (int step = 0; step <= 200; step++) {
            Tensor residual = x.matmul(w).sub(y);                    // [n, 1]
            Tensor grad = x.t().matmul(residual).mul(2.0 / n);       // d/dw mean(residual^2)
            w = w.sub(grad.mul(lr));
            if (step % 40 == 0)
                System.out.printf("step %3d  mse %.6f%n", step, residual.pow(2).mean().item());
        }
        System.out.printf("max |w - w_true| = %.2e%n", w.sub(trueW).abs().max().item());
        System.out.println(x.slice(0, 0, 2).slice(1, 0, 5));
        for (int size : new int[] {256, 512, 1024}) {
            Tensor a = Tensor.randn(g, size, size), b = Tensor.randn(g, size, size);
            a.matmul(b);
            long t0 = System.nanoTime();
            int reps = 5;
            for (int r = 0; r < reps; r++) a.matmul(b).close();
            double s = (System.nanoTime() - t0) / 1e9 / reps;
            System.out.printf("matmul %4d x %4d: %.1f GFLOP/s (%s)%n", size, size, 2.0 * size * size * size / s / 1e9, DType.FLOAT32);
        }
    }
}
