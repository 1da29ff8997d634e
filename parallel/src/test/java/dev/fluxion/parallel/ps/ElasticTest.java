package dev.fluxion.parallel.ps;

import dev.fluxion.nn.Module;
import dev.fluxion.optim.SGD;
import dev.fluxion.parallel.DistributedException;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static dev.fluxion.parallel.ps.ParameterServerTest.*;
import static org.junit.jupiter.api.Assertions.*;

/** Workers that die or join (SSP), and a server that crashes and resumes from its checkpoint (BSP, exactly). */
class ElasticTest {
    static final Duration WORKER_TIMEOUT = Duration.ofMillis(600);

    /** A counter per worker id (4): the servers step SGD lr 1 on gradient / 2, so 2 * value[w] counts w's updates. */
    static ParameterServer counterServer(Consistency c) throws Exception {
        List<Tensor> init = List.of(Tensor.zeros(4));
        var config = ParameterServer.Config.of(c, 2).withTimeouts(TIMEOUT, WORKER_TIMEOUT);
        return ParameterServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN, ShardLayout.of(List.of(new int[] {4}), 1), 0, init,
                ps -> new SGD(ps, SGD.Config.DEFAULT.withLr(1)), config);
    }

    static long[] counts(Tensor t) {
        float[] v = t.toFloatArray();
        long[] n = new long[v.length];
        for (int i = 0; i < v.length; i++) n[i] = Math.round(v[i] * 2);
        return n;
    }

    static void step(ParameterServerClient ps, Tensor param, int worker) {
        ps.pull();
        float[] g = new float[4];
        g[worker] = -1;
        param.setGrad(Tensor.of(g, 4));
        ps.push();
    }

    @Test void aSilentWorkerIsDroppedAfterTheTimeoutAndTheOthersContinue() throws Exception {
        int s = 1;
        try (ParameterServer server = counterServer(Consistency.ssp(s))) {
            var addr = List.of(new InetSocketAddress("127.0.0.1", server.port()));
            CountDownLatch othersDone = new CountDownLatch(1);
            List<Callable<Long>> tasks = new ArrayList<>();
            tasks.add(() -> {                                         // worker 0: trains 20 clocks
                Tensor p = Tensor.zeros(4);
                try (var ps = ParameterServerClient.connect(addr, TOKEN, 0, List.of(p), TIMEOUT)) {
                    for (int k = 0; k < 20; k++) step(ps, p, 0);
                    othersDone.countDown();
                    return ps.clock();
                }
            });
            tasks.add(() -> {                                         // worker 1: two clocks, then hangs with its connection open
                Tensor p = Tensor.zeros(4);
                try (var ps = ParameterServerClient.connect(addr, TOKEN, 1, List.of(p), TIMEOUT)) {
                    for (int k = 0; k < 2; k++) step(ps, p, 1);
                    assertTrue(othersDone.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS), "worker 0 went on without worker 1");
                    var e = assertThrows(DistributedException.class, () -> step(ps, p, 1));
                    assertTrue(e.getMessage().contains("dropped"), e.getMessage());
                    return ps.clock();
                }
            });
            List<Long> clocks = onThreads(tasks);
            assertEquals(20, clocks.get(0));
            assertEquals(2, clocks.get(1));
            assertEquals(List.of(), server.liveWorkers().stream().filter(w -> w == 1).toList(), "worker 1 was dropped");
            assertArrayEquals(new long[] {20, 2, 0, 0}, counts(pullOnce(addr, 3)), "the values hold every push that was applied");
        }
    }

    /** What a fresh worker (id) pulls. */
    static Tensor pullOnce(List<InetSocketAddress> addr, int id) {
        Tensor p = Tensor.zeros(4);
        try (var ps = ParameterServerClient.connect(addr, TOKEN, id, List.of(p), TIMEOUT)) {
            ps.pull();
        }
        return p;
    }

    @Test void aNewWorkerJoinsAtTheCurrentClockAndPullsTheCurrentParameters() throws Exception {
        int s = 2;
        try (ParameterServer server = counterServer(Consistency.ssp(s))) {
            var addr = List.of(new InetSocketAddress("127.0.0.1", server.port()));
            CountDownLatch halfway = new CountDownLatch(1), joined = new CountDownLatch(1);
            List<Callable<long[]>> tasks = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                int worker = w;
                tasks.add(() -> {
                    Tensor p = Tensor.zeros(4);
                    try (var ps = ParameterServerClient.connect(addr, TOKEN, worker, List.of(p), TIMEOUT)) {
                        for (int k = 0; k < 16; k++) {
                            if (k == 8 && worker == 0) { halfway.countDown(); assertTrue(joined.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)); }
                            step(ps, p, worker);
                        }
                        return new long[] {ps.clock()};
                    }
                });
            }
            tasks.add(() -> {                                         // worker 3 joins in the middle of the run
                assertTrue(halfway.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
                Tensor p = Tensor.zeros(4);
                try (var ps = ParameterServerClient.connect(addr, TOKEN, 3, List.of(p), TIMEOUT)) {
                    long start = ps.clock();
                    joined.countDown();
                    ps.pull();
                    long[] n = counts(p);
                    // worker 0 waits at clock 8; its pull of clock 7 needed worker 1 at >= 7 - s, so the slowest live clock is >= 7 - s
                    assertTrue(start >= 7 - s, "joined at clock " + start + ", the slowest live worker was at >= " + (7 - s));
                    assertTrue(n[0] >= 8 && n[1] >= start - s, "the first pull holds the current parameters: " + java.util.Arrays.toString(n));
                    for (int k = 0; k < 5; k++) step(ps, p, 3);
                    return new long[] {start, ps.clock()};
                }
            });
            List<long[]> out = onThreads(tasks);
            assertEquals(out.get(2)[0] + 5, out.get(2)[1]);
            long[] n = counts(pullOnce(addr, 7));
            assertArrayEquals(new long[] {16, 16, 0, 5}, n, "every worker's pushes were applied, the newcomer's too");
        }
    }

    @Test void aRestartedServerResumesFromItsCheckpointAndTrainingContinuesExactly(@TempDir Path dir) throws Exception {
        int n = 2, first = 4, second = 3;
        List<float[]> want = singleProcess(n, "sgd", first + second);
        var config = ParameterServer.Config.of(Consistency.bsp(), n).withTimeouts(TIMEOUT, TIMEOUT).withCheckpoints(dir, 1);
        List<ParameterServer> servers = new ArrayList<>();
        for (int s = 0; s < 2; s++) servers.add(start(s, model(1), config));
        runWorkers(servers, n, first);
        assertTrue(Files.exists(dir.resolve("s0").resolve("checkpoint.safetensors")));
        // a crash: the servers go away; a worker still connected finds out by name
        for (ParameterServer server : servers) awaitNoWorkers(server);   // goodbyes are handled on the servers' threads
        Module m = model(1);
        var stale = ParameterServerClient.connect(addresses(servers), TOKEN, 0, m.parameters(), TIMEOUT);
        servers.forEach(ParameterServer::close);
        var e = assertThrows(DistributedException.class, stale::pull);
        assertTrue(e.getMessage().contains("parameter server 0"), e.getMessage());
        stale.close();
        // restarted from a different initial model: the checkpoint wins
        List<ParameterServer> again = new ArrayList<>();
        for (int s = 0; s < 2; s++) again.add(start(s, model(99), config));
        try {
            assertEquals(first, again.get(0).applied());
            List<List<float[]>> got = runWorkers(again, n, second);
            for (int w = 0; w < n; w++) assertClose(want, got.get(w), "worker " + w + " after the restart");
        } finally {
            again.forEach(ParameterServer::close);
        }
    }

    static void awaitNoWorkers(ParameterServer server) throws InterruptedException {
        long end = System.nanoTime() + TIMEOUT.toNanos();
        while (!server.liveWorkers().isEmpty() && System.nanoTime() < end) Thread.sleep(10);
        assertEquals(List.of(), server.liveWorkers());
    }

    static ParameterServer start(int s, Module init, ParameterServer.Config config) throws Exception {
        List<int[]> shapes = new ArrayList<>();
        for (var p : init.parameters()) shapes.add(p.shape());
        return ParameterServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN, ShardLayout.of(shapes, 2), s, init.parameters(), optimizer("sgd"),
                config.withCheckpoints(config.checkpointDir().resolve("s" + s), config.checkpointEvery()));
    }

    static List<List<float[]>> runWorkers(List<ParameterServer> servers, int n, int steps) throws Exception {
        List<Callable<List<float[]>>> tasks = new ArrayList<>();
        for (int w = 0; w < n; w++) {
            int worker = w;
            tasks.add(() -> {
                Module m = model(5);
                try (var ps = ParameterServerClient.connect(addresses(servers), TOKEN, worker, m.parameters(), TIMEOUT)) {
                    return train(ps, m, worker, n, steps);
                }
            });
        }
        return onThreads(tasks);
    }
}
