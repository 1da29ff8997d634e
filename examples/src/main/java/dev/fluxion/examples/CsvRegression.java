package dev.fluxion.examples;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.ReLU;
import dev.fluxion.nn.Reduction;
import dev.fluxion.nn.Sequential;
import dev.fluxion.nn.data.Csv;
import dev.fluxion.nn.data.DataLoader;
import dev.fluxion.nn.data.TensorDataset;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.ReduceLROnPlateau;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Regression on a CSV file, written as a PyTorch user would: read the columns, standardise them, a
 * {@link DataLoader} with seeded shuffling and worker threads, AdamW with a Huber loss,
 * {@link ReduceLROnPlateau} on the validation loss, and early stopping that keeps the best weights.
 * Without a file argument it writes a synthetic one (y = 3 x1 - 2 x2 + x3^2 + noise) first.
 * <pre>mvn -B -q -DskipTests -Ptrain verify -Dmain.class=dev.fluxion.examples.CsvRegression -Dmain.args="--csv data.csv --target y"</pre>
 */
public final class CsvRegression {
    /** What training reached: the best validation mean squared error (in standardised units) and the epochs run. */
    record Result(double validationMse, int epochs, double finalLr) {}

    public static void main(String[] args) throws IOException {
        Path csv = null;
        String target = "y";
        for (int i = 0; i + 1 < args.length; i += 2)
            switch (args[i]) {
                case "--csv" -> csv = Path.of(args[i + 1]);
                case "--target" -> target = args[i + 1];
                default -> throw new IllegalArgumentException("CsvRegression: unknown flag " + args[i] + " (flags: --csv FILE --target COLUMN)");
            }
        if (csv == null) {
            csv = Files.createTempFile("fluxion-regression", ".csv");
            writeSynthetic(csv, 2000, new Generator(3));
            System.out.println("wrote a synthetic data set to " + csv);
        }
        Result r = train(Csv.read(csv), target, 200, true);
        System.out.printf(Locale.ROOT, "best validation MSE %.4f (standardised units) after %d epochs, final lr %.2g%n", r.validationMse(), r.epochs(), r.finalLr());
    }

    /** Trains on 80% of the rows and stops when the validation loss has not improved for 12 epochs. */
    static Result train(Csv table, String target, int maxEpochs, boolean verbose) {
        List<String> features = table.header().stream().filter(c -> !c.equals(target)).toList();
        Tensor x = Scope.escape(standardise(table.tensor(features.toArray(new String[0]))));
        Tensor y = Scope.escape(standardise(table.tensor(target)));
        int n = x.size(0), nTrain = n * 4 / 5;
        var train = new TensorDataset(x.narrow(0, 0, nTrain), y.narrow(0, 0, nTrain));
        Tensor xVal = x.narrow(0, nTrain, n - nTrain), yVal = y.narrow(0, nTrain, n - nTrain);

        Init init = Init.seed(5);
        var model = new Sequential(new Linear(features.size(), 64, true, init), new ReLU(), new Linear(64, 64, true, init), new ReLU(), new Linear(64, 1, true, init));
        var opt = new AdamW(model.parameters(), AdamW.Config.DEFAULT.withLr(3e-3).withWeightDecay(1e-4));
        var plateau = new ReduceLROnPlateau(opt, ReduceLROnPlateau.Config.DEFAULT.withPatience(4).withFactor(0.3));
        var loader = DataLoader.tuples(train, DataLoader.Options.DEFAULT.withBatchSize(64).withShuffle(true, 42).withNumWorkers(2));

        double best = Double.POSITIVE_INFINITY;
        var bestWeights = model.stateDict(); // replaced by copies when the model improves
        int sinceBest = 0, epoch = 0;
        while (epoch < maxEpochs && sinceBest < 12) {
            epoch++;
            for (List<Tensor> batch : loader)
                try (var scope = Scope.open()) {
                    Tensor loss = Losses.huber(model.forward(batch.get(0)), batch.get(1), 1.0, Reduction.MEAN);
                    opt.zeroGrad();
                    loss.backward();
                    opt.step();
                }
            double val = validationMse(model, xVal, yVal);
            plateau.step(val);
            if (val < best - 1e-6) {
                best = val;
                sinceBest = 0;
                bestWeights = copy(model.stateDict());
            } else sinceBest++;
            if (verbose && epoch % 10 == 0) System.out.printf(Locale.ROOT, "epoch %3d  validation MSE %.4f  lr %.2g%n", epoch, val, opt.lr(0));
        }
        model.loadStateDict(bestWeights, true);
        return new Result(validationMse(model, xVal, yVal), epoch, opt.lr(0));
    }

    static double validationMse(Sequential model, Tensor x, Tensor y) {
        try (var off = Autodiff.noGrad(); var scope = Scope.open()) {
            return Losses.mse(model.forward(x), y).item();
        }
    }

    /** Each column to mean 0 and standard deviation 1 (population, as sklearn's StandardScaler). */
    static Tensor standardise(Tensor columns) {
        try (var scope = Scope.open()) {
            Tensor mean = columns.mean(new int[] {0}, true);
            Tensor std = columns.std(new int[] {0}, true, 0).clampMin(1e-12);
            return scope.keep(columns.sub(mean).div(std));
        }
    }

    private static java.util.Map<String, Tensor> copy(java.util.Map<String, Tensor> state) {
        var out = new java.util.LinkedHashMap<String, Tensor>();
        state.forEach((k, v) -> out.put(k, Scope.escape(v.detach().copy())));
        return out;
    }

    /** n rows of x1, x2, x3 uniform in [-2, 2] and y = 3 x1 - 2 x2 + x3^2 + N(0, 0.1^2). */
    static void writeSynthetic(Path file, int n, Generator g) {
        StringBuilder sb = new StringBuilder("x1,x2,x3,y\n");
        for (int i = 0; i < n; i++) {
            double x1 = 4 * g.nextDouble() - 2, x2 = 4 * g.nextDouble() - 2, x3 = 4 * g.nextDouble() - 2;
            double y = 3 * x1 - 2 * x2 + x3 * x3 + 0.1 * g.nextGaussian();
            sb.append(String.format(Locale.ROOT, "%.6f,%.6f,%.6f,%.6f%n", x1, x2, x3, y));
        }
        try {
            Files.writeString(file, sb);
        } catch (IOException e) {
            throw new UncheckedIOException("CsvRegression: cannot write " + file, e);
        }
    }
}
