package dev.fluxion.parallel;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DeviceMeshTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    /** 8 ranks as (pp, dp, tp) = (2, 2, 2): each rank's groups hold exactly the ranks that share its other coordinates. */
    @Test void threeDimensionalMeshGroupsAreTheLinesThroughEachRank() throws Exception {
        List<long[]> sums = LocalCluster.run(8, TIMEOUT, pg -> {
            DeviceMesh mesh = DeviceMesh.of(pg, new String[] {"pp", "dp", "tp"}, new int[] {2, 2, 2});
            int r = pg.rank();
            assertEquals(r / 4, mesh.coordinate("pp"));
            assertEquals(r / 2 % 2, mesh.coordinate("dp"));
            assertEquals(r % 2, mesh.coordinate("tp"));
            assertEquals(r, mesh.rankAt(mesh.coordinate("pp"), mesh.coordinate("dp"), mesh.coordinate("tp")));
            long[] out = new long[3];
            String[] dims = {"pp", "dp", "tp"};
            for (int d = 0; d < 3; d++) {
                ProcessGroup g = mesh.group(dims[d]);
                assertEquals(2, g.size());
                assertEquals(mesh.coordinate(dims[d]), g.rank(), "a rank's rank in a dim's group is its coordinate");
                Tensor t = Tensor.full(r, DType.INT64, Device.CPU, 1);
                g.allReduce(t, ReduceOp.SUM).waitFor();
                out[d] = t.toLongArray()[0];
            }
            return out;
        });
        for (int r = 0; r < 8; r++) {
            // partner along pp differs by 4, along dp by 2, along tp by 1
            assertArrayEquals(new long[] {r + (r ^ 4), r + (r ^ 2), r + (r ^ 1)}, sums.get(r), "rank " + r);
        }
    }

    @Test void badShapesAreRefusedWithTheirNumbers() throws Exception {
        LocalCluster.run(2, TIMEOUT, pg -> {
            var e = assertThrows(IllegalArgumentException.class, () -> DeviceMesh.of(pg, new String[] {"dp", "tp"}, new int[] {2, 2}));
            assertTrue(e.getMessage().contains("hold 4 ranks") && e.getMessage().contains("has 2"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> DeviceMesh.of(pg, new String[] {"tp", "tp"}, new int[] {1, 2}));
            assertTrue(e.getMessage().contains("used twice"), e.getMessage());
            DeviceMesh mesh = DeviceMesh.of(pg, new String[] {"dp"}, new int[] {2});
            assertTrue(mesh.group("dp") == pg, "a dimension spanning the world is the world group");
            e = assertThrows(IllegalArgumentException.class, () -> mesh.group("tp"));
            assertTrue(e.getMessage().contains("no dimension 'tp'"), e.getMessage());
            return null;
        });
    }
}
