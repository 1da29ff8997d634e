package dev.fluxion.parallel.tcp;

import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every collective on 1 to 4 ranks (threads with real sockets on 127.0.0.1), every training dtype, sizes
 * that do not divide by the world size, checked against values computed here and for bitwise agreement.
 */
class CollectivesTest {
    static final DType[] DTYPES = {DType.FLOAT32, DType.FLOAT64, DType.FLOAT16, DType.BFLOAT16, DType.INT64, DType.INT32};
    static final int[] SIZES = {1, 5, 7, 1003};
    static final Duration TIMEOUT = Duration.ofSeconds(20);

    /** Rank r's value at index i: small integers, so sums are exact in every dtype (bfloat16 included). */
    static double value(int r, int i) { return ((i * 7 + r * 3) % 11) - 5; }

    static Tensor input(DType dt, int r, int count) {
        double[] v = new double[count];
        for (int i = 0; i < count; i++) v[i] = value(r, i);
        return Tensor.of(v, count).to(dt);
    }

    static byte[] bytes(Tensor t) {
        ByteBuffer b = ByteBuffer.allocate((int) t.numel() * t.dtype().byteSize());
        t.storage().readBytes(t.offset(), b);
        return b.array();
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {1, 2, 3, 4})
    void allReduceEveryDtypeOpAndSize(int n) throws Exception {
        List<List<byte[]>> results = LocalCluster.run(n, TIMEOUT, pg -> {
            List<byte[]> mine = new ArrayList<>();
            for (DType dt : DTYPES)
                for (ReduceOp op : ReduceOp.values())
                    for (int count : SIZES) {
                        Tensor t = input(dt, pg.rank(), count);
                        pg.allReduce(t, op).waitFor();
                        double[] got = t.to(DType.FLOAT64).toDoubleArray();
                        for (int i = 0; i < count; i++) {
                            double e = expected(op, dt, n, i);
                            assertEquals(e, got[i], tolerance(dt, op), () -> dt + " " + op + " of " + count + " on " + n + " ranks");
                        }
                        mine.add(bytes(t));
                    }
            return mine;
        });
        for (int r = 1; r < n; r++)
            for (int k = 0; k < results.get(0).size(); k++) assertArrayEquals(results.get(0).get(k), results.get(r).get(k), "rank " + r + " differs from rank 0, case " + k);
    }

    static double expected(ReduceOp op, DType dt, int n, int i) {
        double s = 0, mx = Double.NEGATIVE_INFINITY, mn = Double.POSITIVE_INFINITY;
        for (int r = 0; r < n; r++) { double v = value(r, i); s += v; mx = Math.max(mx, v); mn = Math.min(mn, v); }
        return switch (op) {
            case SUM -> s;
            case MAX -> mx;
            case MIN -> mn;
            case AVG -> dt == DType.INT32 || dt == DType.INT64 ? (double) ((long) s / n) : s / n;
        };
    }

    static double tolerance(DType dt, ReduceOp op) {
        if (op != ReduceOp.AVG) return 0;
        return switch (dt) { case FLOAT16 -> 1e-2; case BFLOAT16 -> 5e-2; case FLOAT32 -> 1e-6; default -> 1e-12; };
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 3, 4})
    void randomFloatsAreBitwiseIdenticalAndClose(int n) throws Exception {
        int count = 300_007;   // several pipelined reads per chunk
        List<byte[]> results = LocalCluster.run(n, TIMEOUT, pg -> {
            Tensor t = Tensor.randn(new Generator(100 + pg.rank()), count);
            pg.allReduce(t, ReduceOp.SUM).waitFor();
            return bytes(t);
        });
        for (int r = 1; r < n; r++) assertArrayEquals(results.get(0), results.get(r), "rank " + r);
        double[] sum = new double[count];
        for (int r = 0; r < n; r++) {
            double[] x = Tensor.randn(new Generator(100 + r), count).to(DType.FLOAT64).toDoubleArray();
            for (int i = 0; i < count; i++) sum[i] += x[i];
        }
        java.nio.FloatBuffer got = ByteBuffer.wrap(results.get(0)).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
        for (int i = 0; i < count; i++) assertEquals(sum[i], got.get(i), 1e-5 * n);
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {1, 2, 3, 4})
    void broadcastFromEveryRoot(int n) throws Exception {
        LocalCluster.run(n, TIMEOUT, pg -> {
            for (DType dt : DTYPES)
                for (int root = 0; root < n; root++)
                    for (int count : new int[] {1, 1003}) {
                        Tensor t = input(dt, pg.rank(), count);
                        pg.broadcast(t, root).waitFor();
                        assertArrayEquals(bytes(input(dt, root, count)), bytes(t), dt + " from root " + root);
                    }
            return null;
        });
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {1, 2, 3, 4})
    void allGatherPutsBlockRFromRankR(int n) throws Exception {
        LocalCluster.run(n, TIMEOUT, pg -> {
            for (DType dt : DTYPES)
                for (int count : SIZES) {
                    Tensor out = Tensor.zeros(dt, n, count);
                    pg.allGather(out, input(dt, pg.rank(), count)).waitFor();
                    for (int r = 0; r < n; r++) assertArrayEquals(bytes(input(dt, r, count)), bytes(out.select(0, r).contiguous()), dt + " block " + r);
                }
            return null;
        });
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {1, 2, 3, 4})
    void reduceScatterLeavesBlockROnRankR(int n) throws Exception {
        List<List<byte[]>> all = LocalCluster.run(n, TIMEOUT, pg -> {
            List<byte[]> mine = new ArrayList<>();
            for (DType dt : DTYPES)
                for (ReduceOp op : ReduceOp.values())
                    for (int count : new int[] {1, 7}) {
                        Tensor in = input(dt, pg.rank(), n * count), out = Tensor.zeros(dt, count);
                        pg.reduceScatter(out, in, op).waitFor();
                        double[] got = out.to(DType.FLOAT64).toDoubleArray();
                        for (int i = 0; i < count; i++)
                            assertEquals(expected(op, dt, n, pg.rank() * count + i), got[i], tolerance(dt, op), dt + " " + op + " element " + i);
                        mine.add(bytes(out));
                    }
            return mine;
        });
        assertEquals(n, all.size());
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 3, 4})
    void sendRecvAroundTheRingAndPointToPoint(int n) throws Exception {
        LocalCluster.run(n, TIMEOUT, pg -> {
            int r = pg.rank(), right = (r + 1) % n, left = (r + n - 1) % n;
            Tensor in = Tensor.zeros(DType.FLOAT32, 100_001);
            pg.sendRecv(input(DType.FLOAT32, r, 100_001), right, in, left).waitFor();   // large: both directions at once
            assertArrayEquals(bytes(input(DType.FLOAT32, left, 100_001)), bytes(in));
            if (r == 0) pg.send(input(DType.INT64, 0, 9), n - 1).waitFor();
            if (r == n - 1) {
                Tensor got = Tensor.zeros(DType.INT64, 9);
                pg.recv(got, 0).waitFor();
                assertArrayEquals(bytes(input(DType.INT64, 0, 9)), bytes(got));
            }
            pg.barrier().waitFor();
            return null;
        });
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {3, 4})
    void subGroupsReduceAmongTheirMembers(int n) throws Exception {
        LocalCluster.run(n, TIMEOUT, pg -> {
            int r = pg.rank();
            int[] members = r % 2 == 0 ? evens(n) : odds(n);
            ProcessGroup sub = pg.newGroup(members);
            assertEquals(members.length, sub.size());
            assertEquals(r, sub.globalRank(sub.rank()));
            Tensor t = Tensor.full(r, DType.INT64, dev.fluxion.tensor.Device.CPU, 3);
            sub.allReduce(t, ReduceOp.SUM).waitFor();
            long want = Arrays.stream(members).sum();
            assertArrayEquals(new long[] {want, want, want}, t.toLongArray());
            sub.close();
            return null;
        });
    }

    static int[] evens(int n) { return java.util.stream.IntStream.range(0, n).filter(i -> i % 2 == 0).toArray(); }
    static int[] odds(int n) { return java.util.stream.IntStream.range(0, n).filter(i -> i % 2 == 1).toArray(); }
}
