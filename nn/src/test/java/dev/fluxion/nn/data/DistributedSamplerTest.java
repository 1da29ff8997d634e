package dev.fluxion.nn.data;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * DistributedSampler: the unshuffled lists (padding and drop_last rules) equal torch's
 * (make_distributed_sampler_reference.py); shuffled shards are checked by their properties.
 */
class DistributedSamplerTest {

    @Test void unshuffledListsEqualTorchs() throws IOException {
        int cases = 0;
        try (var in = getClass().getResourceAsStream("/reference/distributed_sampler.txt")) {
            assertNotNull(in, "missing /reference/distributed_sampler.txt; run make_distributed_sampler_reference.py");
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("#")) continue;
                String[] parts = line.split(":", -1);
                int[] key = Arrays.stream(parts[0].trim().split(" ")).mapToInt(Integer::parseInt).toArray();
                int[] expected = parts[1].isBlank() ? new int[0] : Arrays.stream(parts[1].trim().split(" ")).mapToInt(Integer::parseInt).toArray();
                var s = new DistributedSampler(key[0], key[1], key[3], false, 0, key[2] == 1);
                assertArrayEquals(expected, s.indices(), line);
                assertEquals(expected.length, s.numSamples(), line);
                cases++;
            }
        }
        assertEquals(288, cases);
    }

    private static int[][] shards(int size, int replicas, long seed, long epoch, boolean dropLast) {
        int[][] out = new int[replicas][];
        for (int r = 0; r < replicas; r++) {
            var s = new DistributedSampler(size, replicas, r, true, seed, dropLast);
            s.setEpoch(epoch);
            out[r] = s.indices();
        }
        return out;
    }

    @Test void shuffledShardsPartitionTheDatasetWithEqualLengths() {
        for (int size : new int[] {10, 13, 100, 101}) {
            for (int replicas : new int[] {1, 2, 3, 4}) {
                String what = size + " samples on " + replicas + " ranks";
                // without drop_last: equal lengths ceil(n/R); together they hold every index, and only the padding repeats
                int[][] padded = shards(size, replicas, 7, 0, false);
                int per = (size + replicas - 1) / replicas;
                Set<Integer> seen = new HashSet<>();
                int total = 0;
                for (int[] shard : padded) {
                    assertEquals(per, shard.length, what);
                    for (int i : shard) { assertTrue(i >= 0 && i < size, what); seen.add(i); total++; }
                }
                assertEquals(size, seen.size(), what + ": cover");
                assertEquals(per * replicas - size, total - seen.size(), what + ": repeats are exactly the padding");
                // with drop_last: equal lengths floor(n/R), pairwise disjoint
                int[][] cut = shards(size, replicas, 7, 0, true);
                Set<Integer> disjoint = new HashSet<>();
                for (int[] shard : cut) {
                    assertEquals(size / replicas, shard.length, what);
                    for (int i : shard) assertTrue(disjoint.add(i), what + ": index " + i + " on two ranks");
                }
            }
        }
    }

    @Test void sameSeedAndEpochGiveTheSameShardsAndEachEpochReshuffles() {
        assertTrue(Arrays.deepEquals(shards(50, 3, 11, 4, false), shards(50, 3, 11, 4, false)), "deterministic");
        assertFalse(Arrays.deepEquals(shards(50, 3, 11, 4, false), shards(50, 3, 11, 5, false)), "a new epoch reshuffles");
        assertFalse(Arrays.deepEquals(shards(50, 3, 11, 4, false), shards(50, 3, 12, 4, false)), "another seed, another order");
        var s = new DistributedSampler(50, 2, 1, true, 11, false);
        assertArrayEquals(s.indices(), s.indices(), "the same epoch until setEpoch");
        int[] e0 = s.indices();
        s.setEpoch(1);
        assertFalse(Arrays.equals(e0, s.indices()));
        // the permutation is really shuffled, not the identity
        assertFalse(Arrays.equals(IntStream.range(0, 25).map(i -> 2 * i + 1).toArray(), e0));
    }

    @Test void badSettingsAreRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> new DistributedSampler(10, 2, 2, true, 0, false));
        assertEquals("DistributedSampler: invalid rank 2, rank should be in the interval [0, 1]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new DistributedSampler(10, 0, 0, true, 0, false));
        assertEquals("DistributedSampler: numReplicas must be >= 1, got 0", e.getMessage());
    }

    @Test void aLoaderOverTheSamplerReadsOnlyItsShard() {
        var sampler = new DistributedSampler(10, 3, 2, false, 0, false);
        var loader = DataLoader.of(Dataset.of(10, i -> i), DataLoader.Options.DEFAULT.withBatchSize(2).withSampler(sampler), l -> l);
        assertEquals(2, loader.size());
        StringBuilder seen = new StringBuilder();
        for (var batch : loader) seen.append(batch);
        assertEquals("[2, 5][8, 1]", seen.toString());   // positions 2, 5, 8, 11 of 0..9 padded with 0, 1
    }
}
