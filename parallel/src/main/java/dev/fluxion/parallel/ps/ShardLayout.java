package dev.fluxion.parallel.ps;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How parameters are split over parameter servers. The parameters, flattened and concatenated in order, are cut
 * into one contiguous range per server of about equal size, each cut moved to the nearest row boundary of the
 * parameter it falls in (a row is a slice along dim 0; a 0- or 1-dim parameter has rows of one element), so a
 * row of an embedding table lives on one server and a sparse push sends it there whole. Workers and servers
 * compute the same layout from the parameter shapes; {@link #fingerprint()} lets them check that they agree.
 */
public final class ShardLayout {
    /** A run of rows of one parameter held by one server, at offset (elements) within that server's shard. */
    public record Piece(int param, long rowFrom, long rowTo, long rowLength, long shardOffset) {
        public long elements() { return (rowTo - rowFrom) * rowLength; }
        /** Where the piece starts within the flattened parameter. */
        public long paramOffset() { return rowFrom * rowLength; }
    }

    /** Shards must fit one frame of the wire protocol (floats in a Java array). */
    public static final long MAX_SHARD_ELEMENTS = 1L << 28;

    private final List<long[]> shapes;
    private final List<List<Piece>> byServer;
    private final long[] shardElements;

    private ShardLayout(List<long[]> shapes, List<List<Piece>> byServer, long[] shardElements) {
        this.shapes = shapes;
        this.byServer = byServer;
        this.shardElements = shardElements;
    }

    /** The layout of parameters with these shapes over servers servers. */
    public static ShardLayout of(List<int[]> shapes, int servers) {
        if (servers < 1) throw new IllegalArgumentException("ShardLayout: servers must be >= 1, got " + servers);
        if (shapes.isEmpty()) throw new IllegalArgumentException("ShardLayout: no parameters");
        List<long[]> ls = new ArrayList<>();
        long total = 0;
        for (int[] s : shapes) {
            long[] l = Arrays.stream(s).asLongStream().toArray();
            ls.add(l);
            total += Arrays.stream(l).reduce(1, (a, b) -> a * b);
        }
        List<List<Piece>> by = new ArrayList<>();
        for (int s = 0; s < servers; s++) by.add(new ArrayList<>());
        long[] sizes = new long[servers];
        long start = 0;   // flat position of the current parameter
        for (int i = 0; i < ls.size(); i++) {
            long[] shape = ls.get(i);
            long rows = shape.length == 0 ? 1 : shape[0];
            long numel = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            long rowLen = shape.length <= 1 ? 1 : numel / Math.max(1, rows);
            // a row goes to the server whose range holds the row's middle, so every cut moves to the nearest row boundary
            long[] from = new long[servers + 1];
            for (int sv = 0; sv <= servers; sv++) {
                double cut = sv == servers ? Double.POSITIVE_INFINITY : (double) sv * total / servers;
                double r = Math.ceil((cut - start) / rowLen - 0.5);
                from[sv] = sv == 0 ? 0 : (long) Math.max(0, Math.min(rows, r));
            }
            for (int sv = 0; sv < servers; sv++) {
                long a = from[sv], b = from[sv + 1];
                if (b <= a) continue;
                by.get(sv).add(new Piece(i, a, b, rowLen, sizes[sv]));
                sizes[sv] += (b - a) * rowLen;
            }
            start += numel;
        }
        for (int s = 0; s < servers; s++)
            if (sizes[s] > MAX_SHARD_ELEMENTS)
                throw new IllegalArgumentException("ShardLayout: server " + s + " would hold " + sizes[s] + " elements, more than "
                        + MAX_SHARD_ELEMENTS + "; use more servers");
        return new ShardLayout(ls, by, sizes);
    }

    public int servers() { return byServer.size(); }

    public int params() { return shapes.size(); }

    /** The pieces server holds, in shard order. */
    public List<Piece> pieces(int server) { return List.copyOf(byServer.get(server)); }

    /** Elements of server's shard. */
    public long shardElements(int server) { return shardElements[server]; }

    /** A hash of the shapes and the server count: workers and servers refuse to talk when theirs differ. */
    public long fingerprint() {
        long h = 1125899906842597L + servers();
        for (long[] s : shapes) {
            h = 31 * h + s.length;
            for (long d : s) h = 31 * h + d;
        }
        return h;
    }
}
