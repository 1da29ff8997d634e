package dev.fluxion.parallel.ps;

import dev.fluxion.optim.SGD;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static dev.fluxion.parallel.ps.ParameterServerTest.TOKEN;
import static dev.fluxion.parallel.ps.ParameterServerTest.onThreads;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The staleness bound, checked from the values themselves: worker w's gradient is -e_w, the servers step SGD
 * with lr 1 on gradient / W, so W * value[w] counts worker w's updates that a pull contains. A worker at clock c
 * must see at least c - s updates of every worker, and all c of its own.
 */
class StalenessTest {
    static final Duration TIMEOUT = Duration.ofSeconds(20);
    static final int W = 4, CLOCKS = 40;

    /** Two counters of W elements, so that both of the two servers hold a piece of each. */
    static List<Tensor> counters() { return List.of(Tensor.zeros(W), Tensor.zeros(W)); }

    static List<ParameterServer> servers(Consistency c) throws Exception {
        List<Tensor> init = counters();
        ShardLayout layout = ShardLayout.of(List.of(new int[] {W}, new int[] {W}), 2);
        List<ParameterServer> out = new ArrayList<>();
        var config = ParameterServer.Config.of(c, W).withTimeouts(TIMEOUT, TIMEOUT);
        for (int s = 0; s < 2; s++)
            out.add(ParameterServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN, layout, s, init,
                    ps -> new SGD(ps, SGD.Config.DEFAULT.withLr(1)), config));
        return out;
    }

    /**
     * Updates of each worker that the pulled values surely contain: the fewer of the two counters (each on its
     * own server; the pulls from the two servers happen one after the other, so they may differ by pushes that
     * arrived in between).
     */
    static long[] counts(List<Tensor> params) {
        float[] a = params.get(0).toFloatArray(), b = params.get(1).toFloatArray();
        long[] n = new long[W];
        for (int u = 0; u < W; u++) {
            for (float v : new float[] {a[u], b[u]}) assertEquals(v * W, Math.round(v * W), 1e-4, "a whole number of updates");
            n[u] = Math.round(Math.min(a[u], b[u]) * W);
        }
        return n;
    }

    static void gradient(List<Tensor> params, int w) {
        for (Tensor p : params) {
            float[] g = new float[W];
            g[w] = -1;
            p.setGrad(Tensor.of(g, W));
        }
    }

    @ParameterizedTest(name = "s = {0}")
    @ValueSource(ints = {0, 1, 3})
    void noWorkerEverComputesOnValuesMoreThanSClocksStale(int s) throws Exception {
        List<ParameterServer> servers = servers(Consistency.ssp(s));
        try {
            List<Callable<Long>> tasks = new ArrayList<>();
            for (int w = 0; w < W; w++) {
                int worker = w;
                tasks.add(() -> {
                    Random rnd = new Random(17 + worker);
                    List<Tensor> params = counters();
                    long seen = 0;
                    try (var ps = ParameterServerClient.connect(ParameterServerTest.addresses(servers), TOKEN, worker, params, TIMEOUT)) {
                        for (int k = 0; k < CLOCKS; k++) {
                            long c = ps.clock();
                            ps.pull();
                            long[] n = counts(params);
                            assertEquals(c, n[worker], "worker " + worker + " at clock " + c + " sees all its own updates");
                            for (int u = 0; u < W; u++)
                                assertTrue(n[u] >= c - s, "worker " + worker + " at clock " + c + " sees only " + n[u] + " updates of worker " + u + " (s = " + s + ")");
                            long stale = c - java.util.Arrays.stream(n).min().orElseThrow();
                            seen = Math.max(seen, stale);
                            assertTrue(ps.staleness() >= stale - s && ps.staleness() <= s, "reported staleness " + ps.staleness());
                            // randomised work; worker 2 three times slower
                            Thread.sleep((worker == 2 ? 3 : 1) * rnd.nextInt(4));
                            gradient(params, worker);
                            ps.push();
                        }
                    }
                    return seen;
                });
            }
            List<Long> stale = onThreads(tasks);
            for (long v : stale) assertTrue(v <= s, "staleness " + v + " > " + s);
            if (s == 0) assertEquals(List.of(0L, 0L, 0L, 0L), stale);
            for (ParameterServer server : servers) for (long c : server.clocks().values()) assertEquals(CLOCKS, c);
        } finally {
            servers.forEach(ParameterServer::close);
        }
    }

    @Test void sspLetsFastWorkersRunAheadUpToTheBoundAndNoFurther() throws Exception {
        int s = 3;
        List<ParameterServer> servers = servers(Consistency.ssp(s));
        CountDownLatch release = new CountDownLatch(1);
        try {
            List<Callable<Long>> tasks = new ArrayList<>();
            for (int w = 0; w < W; w++) {
                int worker = w;
                tasks.add(() -> {
                    List<Tensor> params = counters();
                    try (var ps = ParameterServerClient.connect(ParameterServerTest.addresses(servers), TOKEN, worker, params, TIMEOUT)) {
                        if (worker == 2) assertTrue(release.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS));   // a straggler, held at clock 0
                        for (int k = 0; k < 10; k++) {
                            if (worker == 0 && k == s) {
                                // worker 0 has pushed s clocks; the next pull (clock s) is still allowed, clock s+1's must wait for worker 2
                                ps.pull();
                                assertEquals(s, ps.staleness());
                                release.countDown();
                            } else {
                                ps.pull();
                            }
                            gradient(params, worker);
                            ps.push();
                        }
                        return ps.maxStaleness();
                    }
                });
            }
            List<Long> max = onThreads(tasks);
            assertEquals(s, max.get(0), "worker 0 ran ahead by exactly s clocks");
        } finally {
            servers.forEach(ParameterServer::close);
        }
    }

    @Test void aspNeverWaits() throws Exception {
        List<ParameterServer> servers = servers(Consistency.asp());
        CountDownLatch othersDone = new CountDownLatch(W - 1);
        try {
            List<Callable<Long>> tasks = new ArrayList<>();
            for (int w = 0; w < W; w++) {
                int worker = w;
                tasks.add(() -> {
                    List<Tensor> params = counters();
                    try (var ps = ParameterServerClient.connect(ParameterServerTest.addresses(servers), TOKEN, worker, params, TIMEOUT)) {
                        if (worker == 2) assertTrue(othersDone.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS));   // pushes nothing until the others finish
                        for (int k = 0; k < 10; k++) {
                            ps.pull();
                            gradient(params, worker);
                            ps.push();
                        }
                        ps.pull();
                        long[] n = counts(params);
                        if (worker != 2) {
                            assertEquals(0, n[2], "worker " + worker + " finished without any update of worker 2");
                            othersDone.countDown();
                        }
                        return ps.maxStaleness();
                    }
                });
            }
            List<Long> max = onThreads(tasks);
            assertTrue(max.get(0) >= 9, "ASP ran 10 clocks ahead of a silent worker: " + max);
        } finally {
            servers.forEach(ParameterServer::close);
        }
    }
}
