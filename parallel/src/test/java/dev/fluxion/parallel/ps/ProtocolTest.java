package dev.fluxion.parallel.ps;

import dev.fluxion.optim.SGD;
import dev.fluxion.parallel.DistributedException;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.fluxion.parallel.ps.ParameterServerTest.TOKEN;
import static org.junit.jupiter.api.Assertions.*;

/** Sparse pushes, the layout, and what the server does with strangers. */
class ProtocolTest {
    static final Duration TIMEOUT = Duration.ofSeconds(10);

    static ParameterServer server(List<Tensor> init, int servers, int index, Consistency c) throws Exception {
        List<int[]> shapes = new ArrayList<>();
        for (Tensor t : init) shapes.add(t.shape());
        return ParameterServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN, ShardLayout.of(shapes, servers), index, init,
                ps -> new SGD(ps, SGD.Config.DEFAULT.withLr(0.5).withMomentum(0.9)), ParameterServer.Config.of(c, 1).withTimeouts(TIMEOUT, TIMEOUT));
    }

    static List<Tensor> table() {
        float[] v = new float[10 * 3];
        for (int i = 0; i < v.length; i++) v[i] = i * 0.1f;
        return List.of(Tensor.of(v, 10, 3), Tensor.of(new float[] {1, 2}, 2));
    }

    /** Three steps with gradients on rows 2 and 7 of the table only; returns the final values and the bytes pushed. */
    static Object[] run(boolean sparse) throws Exception {
        List<Tensor> init = table();
        List<ParameterServer> servers = List.of(server(init, 2, 0, Consistency.bsp()), server(init, 2, 1, Consistency.bsp()));
        try {
            List<Tensor> params = table();
            try (var ps = ParameterServerClient.connect(ParameterServerTest.addresses(servers), TOKEN, 0, params, TIMEOUT)) {
                if (sparse) ps.sparse(params.get(0));
                long pushed = 0;
                for (int step = 0; step < 3; step++) {
                    ps.pull();
                    float[] g = new float[30];
                    for (int k = 0; k < 3; k++) { g[2 * 3 + k] = step + 1 + k; g[7 * 3 + k] = -0.5f * (k + 1); }
                    if (step == 1) for (int k = 0; k < 3; k++) g[7 * 3 + k] = 0;   // row 7 untouched at step 1: momentum still moves it
                    params.get(0).setGrad(Tensor.of(g, 10, 3));
                    params.get(1).setGrad(Tensor.of(new float[] {0.25f, -1}, 2));
                    long before = ps.bytesSent();
                    ps.push();
                    pushed += ps.bytesSent() - before;
                }
                ps.pull();
                return new Object[] {params.get(0).toFloatArray(), params.get(1).toFloatArray(), pushed};
            }
        } finally {
            servers.forEach(ParameterServer::close);
        }
    }

    @Test void sparsePushesSendOnlyTouchedRowsAndTrainExactlyAsDensePushes() throws Exception {
        Object[] dense = run(false), sparse = run(true);
        assertArrayEquals((float[]) dense[0], (float[]) sparse[0]);
        assertArrayEquals((float[]) dense[1], (float[]) sparse[1]);
        long d = (long) dense[2], s = (long) sparse[2];
        // dense: 3 pushes of 32 floats = 96; sparse: the 2 bias floats and rows 2 and 7 (row 2 only at step 1) = 21 floats,
        // plus at most 8 more segment headers of 8 bytes
        assertTrue(d - s >= 4 * (96 - 21) - 8 * 8, "sparse " + s + " bytes, dense " + d);
        float[] initial = table().get(0).toFloatArray(), after = (float[]) sparse[0];
        for (int row : new int[] {0, 1, 3, 9})
            for (int k = 0; k < 3; k++) assertEquals(initial[row * 3 + k], after[row * 3 + k], "untouched row " + row + " is unchanged");
    }

    @Test void layoutCutsAtRowBoundariesAndCoversEverythingOnce() {
        List<int[]> shapes = List.of(new int[] {100, 8}, new int[] {8}, new int[] {3, 5, 2}, new int[] {}, new int[] {40});
        for (int servers = 1; servers <= 5; servers++) {
            ShardLayout l = ShardLayout.of(shapes, servers);
            long[] covered = {800, 8, 30, 1, 40};
            long total = 0;
            for (int s = 0; s < servers; s++) {
                long off = 0;
                for (var p : l.pieces(s)) {
                    assertEquals(off, p.shardOffset());
                    off += p.elements();
                    covered[p.param()] -= p.elements();
                }
                assertEquals(off, l.shardElements(s));
                total += off;
                assertTrue(Math.abs(off - 879.0 / servers) <= 16, servers + " servers: server " + s + " holds " + off);
            }
            assertEquals(879, total);
            assertArrayEquals(new long[5], covered, "every element on exactly one server");
        }
        assertNotEquals(ShardLayout.of(shapes, 2).fingerprint(), ShardLayout.of(shapes, 3).fingerprint());
    }

    @Test void wrongTokenAndWrongModelAreRefusedByName() throws Exception {
        List<Tensor> init = table();
        try (var server = server(init, 1, 0, Consistency.asp())) {
            var addr = List.of(new InetSocketAddress("127.0.0.1", server.port()));
            var e = assertThrows(DistributedException.class, () -> ParameterServerClient.connect(addr, "other".getBytes(), 0, table(), TIMEOUT));
            assertTrue(e.getMessage().contains("wrong token"), e.getMessage());
            var other = List.of(Tensor.zeros(10, 3), Tensor.zeros(3));
            var e2 = assertThrows(DistributedException.class, () -> ParameterServerClient.connect(addr, TOKEN, 0, other, TIMEOUT));
            assertTrue(e2.getMessage().contains("another layout"), e2.getMessage());
            try (var ok = ParameterServerClient.connect(addr, TOKEN, 0, table(), TIMEOUT)) {
                ok.pull();
            }
        }
    }

    @Test void strangersGetNothingAllocatedAndCannotCrowdWorkersOut() throws Exception {
        List<Tensor> init = table();
        try (var server = server(init, 1, 0, Consistency.asp())) {
            // a frame announcing 1 GiB before any hello: disconnected without reading (or allocating) it
            try (Socket s = new Socket("127.0.0.1", server.port())) {
                s.setSoTimeout(5000);
                OutputStream out = s.getOutputStream();
                out.write(ByteBuffer.allocate(4).putInt(1 << 30).array());
                out.flush();
                assertEquals(-1, s.getInputStream().read(), "the server hung up");
            }
            // more silent connections than the server lets wait for a hello: the extra ones are closed at once
            List<Socket> idle = new ArrayList<>();
            try {
                for (int i = 0; i < ParameterServer.MAX_UNADMITTED; i++) idle.add(new Socket("127.0.0.1", server.port()));
                Thread.sleep(200);   // let the acceptor count them
                try (Socket extra = new Socket("127.0.0.1", server.port())) {
                    extra.setSoTimeout(5000);
                    InputStream in = extra.getInputStream();
                    assertEquals(-1, in.read(), "the connection past the limit is closed");
                }
            } finally {
                for (Socket s : idle) s.close();
            }
            Thread.sleep(200);   // the idle ones' threads notice the close and free their places
            try (var ok = ParameterServerClient.connect(List.of(new InetSocketAddress("127.0.0.1", server.port())), TOKEN, 0, table(), TIMEOUT)) {
                ok.pull();
            }
        }
    }
}
