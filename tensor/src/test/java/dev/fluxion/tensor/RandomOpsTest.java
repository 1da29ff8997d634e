package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.fluxion.tensor.TensorAssert.assertShape;
import static dev.fluxion.tensor.TensorAssert.assertThrowsWith;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * multinomial, randperm, bernoulli, and the global generator: the same seed gives the same values from
 * every random op that has no generator of its own, a different seed different ones. Statistical checks
 * use fixed seeds and bounds many standard deviations wide, so they cannot flake.
 */
class RandomOpsTest {
    /** Every generator-less random op, drawn once in a fixed order. */
    private static double[] drawAll() {
        Tensor probs = Tensor.of(new float[] {0.1f, 0.2f, 0.3f, 0.4f});
        double[][] parts = {
                Tensor.rand(5).toDoubleArray(), Tensor.rand(DType.FLOAT64, 3).toDoubleArray(), Tensor.randn(4).toDoubleArray(),
                Tensor.randn(DType.FLOAT64, 2).toDoubleArray(), Tensor.randint(0, 100, 6).toDoubleArray(), Tensor.randperm(7).toDoubleArray(),
                probs.multinomial(8, true).toDoubleArray(), probs.multinomial(3, false).toDoubleArray(),
                Tensor.full(0.5, 10).bernoulli().toDoubleArray()};
        return Arrays.stream(parts).flatMapToDouble(Arrays::stream).toArray();
    }

    @Test
    void sameSeedSameValuesDifferentSeedDifferentValues() {
        Generator.manualSeed(123);
        double[] a = drawAll();
        Generator.manualSeed(123);
        double[] b = drawAll();
        Generator.manualSeed(124);
        double[] c = drawAll();
        assertArrayEquals(a, b, "same seed, same values");
        assertFalse(Arrays.equals(a, c), "a different seed gives different values");
        Generator.manualSeed(123);
        double first = Tensor.rand(1).item();
        Tensor.rand(new Generator(5), 1000);                 // a generator of its own does not advance the global one
        Generator.manualSeed(123);
        Tensor.rand(new Generator(6), 10);
        assertEquals(first, Tensor.rand(1).item());
    }

    @Test
    void multinomialWithReplacementFollowsTheWeights() {
        Tensor w = Tensor.of(new double[] {1, 0, 3, 6}, 4);   // unnormalised, as torch.multinomial accepts
        long[] s = w.multinomial(20000, true, new Generator(1)).toLongArray();
        int[] count = new int[4];
        for (long v : s) count[(int) v]++;
        assertEquals(0, count[1], "a zero weight is never drawn");
        double[] p = {0.1, 0, 0.3, 0.6};
        for (int i = 0; i < 4; i++) {
            double sd = Math.sqrt(20000 * p[i] * (1 - p[i]));
            assertTrue(Math.abs(count[i] - 20000 * p[i]) <= 5 * sd + 1e-9, "category " + i + ": " + count[i] + " draws, expected about " + 20000 * p[i]);
        }
    }

    @Test
    void multinomialWithoutReplacementDrawsDistinctCategories() {
        Tensor w = Tensor.of(new double[] {0.5, 0, 0.2, 0.3, 1, 1, 0, 1}, 2, 4);
        Generator g = new Generator(3);
        for (int trial = 0; trial < 50; trial++) {
            Tensor s = w.multinomial(3, false, g);
            assertShape(s, 2, 3);
            assertEquals(DType.INT64, s.dtype());
            long[] v = s.toLongArray();
            assertEquals(3, Arrays.stream(v, 0, 3).distinct().count(), "row 0 draws distinct categories: " + Arrays.toString(v));
            for (int i = 0; i < 3; i++) assertTrue(v[i] != 1, "row 0 never draws its zero-weight category");
            long[] row1 = Arrays.copyOfRange(v, 3, 6);
            Arrays.sort(row1);
            assertArrayEquals(new long[] {0, 1, 3}, row1, "row 1 has exactly three non-zero categories");
        }
        assertThrowsWith(IllegalArgumentException.class, () -> w.multinomial(4, false, g), "multinomial", "row 0", "only 3");
        assertThrowsWith(IllegalArgumentException.class, () -> w.multinomial(5, false, g), "multinomial", "5 samples", "4 categories");
        assertThrowsWith(IllegalArgumentException.class, () -> Tensor.of(new double[] {0.5, -0.1}, 2).multinomial(1, true, g), "multinomial", "-0.1");
        assertThrowsWith(IllegalArgumentException.class, () -> Tensor.of(new double[] {0, 0}, 2).multinomial(1, true, g), "multinomial", "no positive");
        assertThrowsWith(IllegalArgumentException.class, () -> Tensor.of(new double[] {1, 1}, 2).multinomial(0, true, g), "multinomial", "positive, got 0");
    }

    @Test
    void randpermIsAPermutation() {
        long[] p = Tensor.randperm(50, new Generator(9)).toLongArray();
        long[] sorted = p.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < 50; i++) assertEquals(i, sorted[i]);
        assertFalse(Arrays.equals(p, sorted), "50 elements in order would be a 1 in 50! event");
        assertEquals(0, Tensor.randperm(0).numel());
        assertThrowsWith(IllegalArgumentException.class, () -> Tensor.randperm(-1), "randperm", "-1");
    }

    @Test
    void bernoulliDrawsOnesWithProbabilityP() {
        Tensor p = Tensor.of(new double[] {0, 1, 0.25}, 3).reshape(3, 1).expand(3, 4000);
        Tensor s = p.bernoulli(new Generator(2));
        assertEquals(DType.FLOAT64, s.dtype());
        assertShape(s, 3, 4000);
        double[] mean = s.mean(1, false).toDoubleArray();
        assertEquals(0, mean[0]);
        assertEquals(1, mean[1]);
        assertEquals(0.25, mean[2], 5 * Math.sqrt(0.25 * 0.75 / 4000));
        assertThrowsWith(IllegalArgumentException.class, () -> Tensor.of(new float[] {0.5f, 1.5f}).bernoulli(), "bernoulli", "1.5", "[0, 1]");
    }
}
