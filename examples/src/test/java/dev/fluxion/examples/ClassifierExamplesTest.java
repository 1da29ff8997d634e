package dev.fluxion.examples;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The MLP and CNN examples learn their generated tasks (short runs of the same code the examples run). */
class ClassifierExamplesTest {
    @Test
    void mlpSeparatesTheSpirals() {
        double acc = MlpClassifier.train(800, false);
        assertTrue(acc > 0.9, "MLP test accuracy " + acc + ", expected > 0.9 (a linear model gets about 0.33)");
    }

    @Test
    void cnnRecognisesTheShapes() {
        double acc = CnnClassifier.train(150, false);
        assertTrue(acc > 0.9, "CNN test accuracy " + acc + ", expected > 0.9 (chance is 0.25)");
    }
}
