package dev.fluxion.parallel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An n-dimensional grid of the ranks of a group, with named dimensions, as PyTorch's
 * {@code init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))}. Ranks fill the grid in row-major
 * order: the last dimension is the innermost, so its groups are neighbouring ranks (on one host, where
 * tensor parallelism's frequent all-reduces belong). With dims ("pp", "dp", "tp") of sizes (2, 2, 2), rank
 * r sits at coordinates (r / 4, r / 2 % 2, r % 2); its "tp" group is {r &amp; ~1, r | 1}, its "dp" group the two
 * ranks that differ only in the middle coordinate, and so on.
 *
 * <pre>{@code
 * DeviceMesh mesh = DeviceMesh.of(world, new String[] {"dp", "tp"}, new int[] {2, 2});
 * ProcessGroup tp = mesh.group("tp");                            // this rank's tensor-parallel group
 * int dpRank = mesh.coordinate("dp");
 * }</pre>
 *
 * Every rank of the group must build the same mesh, in the same order relative to other sub-groups: each
 * rank creates one sub-group per dimension (its line along that dimension), dimension by dimension.
 */
public final class DeviceMesh {
    private final ProcessGroup world;
    private final String[] names;
    private final int[] sizes;
    private final int[] coordinates;                    // this rank's position in the grid
    private final Map<String, ProcessGroup> groups = new LinkedHashMap<>();

    private DeviceMesh(ProcessGroup world, String[] names, int[] sizes) {
        this.world = world;
        this.names = names.clone();
        this.sizes = sizes.clone();
        this.coordinates = coordinatesOf(world.rank(), sizes);
        for (int d = 0; d < names.length; d++) groups.put(names[d], sizes[d] == world.size() ? world : world.newGroup(lineThrough(d)));
    }

    /** A mesh over every rank of world; the product of sizes must equal world.size(). */
    public static DeviceMesh of(ProcessGroup world, String[] names, int[] sizes) {
        if (names.length != sizes.length || names.length == 0)
            throw new IllegalArgumentException("DeviceMesh: " + names.length + " names for " + sizes.length + " sizes; give one name per dimension (at least one)");
        long product = 1;
        for (int d = 0; d < sizes.length; d++) {
            if (sizes[d] < 1) throw new IllegalArgumentException("DeviceMesh: dimension '" + names[d] + "' has size " + sizes[d] + ", expected >= 1");
            if (names[d] == null || names[d].isEmpty()) throw new IllegalArgumentException("DeviceMesh: dimension " + d + " has no name");
            for (int e = 0; e < d; e++)
                if (names[e].equals(names[d])) throw new IllegalArgumentException("DeviceMesh: dimension name '" + names[d] + "' is used twice in " + Arrays.toString(names));
            product = product > Integer.MAX_VALUE ? product : product * sizes[d];   // stops growing past any group size: never overflows
        }
        if (product != world.size())
            throw new IllegalArgumentException("DeviceMesh: sizes " + Arrays.toString(sizes) + " of " + Arrays.toString(names) + " hold " + product
                    + " ranks, but the group has " + world.size());
        return new DeviceMesh(world, names, sizes);
    }

    /** The group the mesh was built on. */
    public ProcessGroup world() { return world; }

    /** Dimension names, outermost first. */
    public List<String> names() { return List.of(names); }

    /** Size of a dimension. */
    public int size(String dim) { return sizes[index(dim)]; }

    /** This rank's coordinate along a dimension (its rank within {@link #group}). */
    public int coordinate(String dim) { return coordinates[index(dim)]; }

    /** This rank's group along a dimension: the ranks that share every other coordinate with it. */
    public ProcessGroup group(String dim) { return groups.get(names[index(dim)]); }

    /** The ranks of world at the given coordinates (one per dimension). */
    public int rankAt(int... coords) {
        if (coords.length != sizes.length)
            throw new IllegalArgumentException("DeviceMesh.rankAt: " + coords.length + " coordinates for a mesh of " + sizes.length + " dimensions");
        int r = 0;
        for (int d = 0; d < sizes.length; d++) {
            if (coords[d] < 0 || coords[d] >= sizes[d])
                throw new IndexOutOfBoundsException("DeviceMesh.rankAt: coordinate " + coords[d] + " of '" + names[d] + "' is outside 0.." + (sizes[d] - 1));
            r = r * sizes[d] + coords[d];
        }
        return r;
    }

    private int index(String dim) {
        for (int d = 0; d < names.length; d++) if (names[d].equals(dim)) return d;
        throw new IllegalArgumentException("DeviceMesh: no dimension '" + dim + "'; the mesh has " + Arrays.toString(names));
    }

    /** World ranks along dimension d through this rank, in coordinate order (they become the group's ranks). */
    private int[] lineThrough(int d) {
        int[] c = coordinates.clone();
        int[] line = new int[sizes[d]];
        for (int i = 0; i < sizes[d]; i++) {
            c[d] = i;
            line[i] = rankAt(c);
        }
        return line;
    }

    private static int[] coordinatesOf(int rank, int[] sizes) {
        int[] c = new int[sizes.length];
        for (int d = sizes.length - 1; d >= 0; d--) {
            c[d] = rank % sizes[d];
            rank /= sizes[d];
        }
        return c;
    }

    @Override public String toString() {
        List<String> dims = new ArrayList<>();
        for (int d = 0; d < names.length; d++) dims.add(names[d] + "=" + sizes[d]);
        return "DeviceMesh(" + String.join(", ", dims) + "; rank " + world.rank() + " at " + Arrays.toString(coordinates) + ")";
    }
}
