package dev.fluxion.examples;

import dev.fluxion.nn.data.Csv;
import dev.fluxion.tensor.Generator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CSV regression example learns its synthetic target: a linear fit leaves about 13% of the variance. */
class CsvRegressionTest {

    @Test
    void learnsTheNonLinearTarget(@TempDir Path dir) {
        Path csv = dir.resolve("data.csv");
        CsvRegression.writeSynthetic(csv, 1000, new Generator(3));
        var r = CsvRegression.train(Csv.read(csv), "y", 25, false);
        // y's variance is 1 after standardising; x3^2 is 13% of it and invisible to a linear model
        assertTrue(r.validationMse() < 0.02, "validation MSE " + r.validationMse());
        assertTrue(r.epochs() <= 25, "epochs " + r.epochs());
    }
}
