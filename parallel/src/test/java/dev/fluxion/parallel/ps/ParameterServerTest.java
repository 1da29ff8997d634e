package dev.fluxion.parallel.ps;

import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Sequential;
import dev.fluxion.nn.Tanh;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.Optimizer;
import dev.fluxion.optim.SGD;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/** BSP parameter servers (2 shards, 3 workers as threads over loopback TCP) against single-process training, which is what DDP computes. */
class ParameterServerTest {
    static final Duration TIMEOUT = Duration.ofSeconds(20);
    static final byte[] TOKEN = "ps-test-token".getBytes();
    static final int B = 4, STEPS = 6;

    static Module model(long seed) {
        Init init = Init.seed(seed);
        return new Sequential(new Linear(6, 16, true, init), new Tanh(), new Linear(16, 8, true, init), new Tanh(), new Linear(8, 3, true, init));
    }

    static Tensor[] batch(int step, int n) {
        Generator g = new Generator(1000 + step);
        return new Tensor[] {Tensor.randn(g, n * B, 6), Tensor.randn(g, n * B, 3)};
    }

    static Function<List<Tensor>, Optimizer<?, ?>> optimizer(String kind) {
        return ps -> kind.equals("sgd") ? new SGD(ps, SGD.Config.DEFAULT.withLr(0.1).withMomentum(0.9))
                : new AdamW(ps, AdamW.Config.DEFAULT.withLr(0.01));
    }

    static List<float[]> values(Module m) {
        List<float[]> out = new ArrayList<>();
        for (var p : m.parameters()) out.add(p.toFloatArray());
        return out;
    }

    static List<float[]> singleProcess(int n, String kind, int steps) {
        Module m = model(1);
        Optimizer<?, ?> opt = optimizer(kind).apply(new ArrayList<>(m.parameters()));
        for (int step = 0; step < steps; step++) {
            try (var s = Scope.open()) {
                Tensor[] b = batch(step, n);
                Tensor loss = Losses.mse(m.forward(b[0]), b[1]);
                opt.zeroGrad();
                loss.backward();
                opt.step();
            }
        }
        return values(m);
    }

    static List<ParameterServer> servers(int count, Consistency c, int workers, String kind, ParameterServer.Config config) throws Exception {
        Module init = model(1);
        List<int[]> shapes = new ArrayList<>();
        for (var p : init.parameters()) shapes.add(p.shape());
        ShardLayout layout = ShardLayout.of(shapes, count);
        List<ParameterServer> out = new ArrayList<>();
        for (int s = 0; s < count; s++)
            out.add(ParameterServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN, layout, s, init.parameters(), optimizer(kind), config));
        return out;
    }

    static List<InetSocketAddress> addresses(List<ParameterServer> servers) {
        List<InetSocketAddress> a = new ArrayList<>();
        for (ParameterServer s : servers) a.add(new InetSocketAddress("127.0.0.1", s.port()));
        return a;
    }

    /** Runs one task per worker on its own thread; rethrows the first failure. */
    static <T> List<T> onThreads(List<Callable<T>> tasks) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(tasks.size());
        try {
            List<Future<T>> fs = new ArrayList<>();
            for (Callable<T> t : tasks) fs.add(pool.submit(t));
            List<T> out = new ArrayList<>();
            for (Future<T> f : fs) out.add(f.get(TIMEOUT.toSeconds() * 3, TimeUnit.SECONDS));
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    /** Trains steps steps of worker w of n on its rows of each global batch, from clock() on. */
    static List<float[]> train(ParameterServerClient ps, Module m, int w, int n, int steps) {
        for (int k = 0; k < steps; k++) {
            int step = (int) ps.clock();
            try (var s = Scope.open()) {
                ps.pull();
                Tensor[] b = batch(step, n);
                Tensor loss = Losses.mse(m.forward(b[0].narrow(0, w * B, B)), b[1].narrow(0, w * B, B));
                for (var p : m.parameters()) p.setGrad(null);
                loss.backward();
                ps.push();
            }
        }
        ps.pull();
        return values(m);
    }

    static void assertClose(List<float[]> want, List<float[]> got, String what) {
        for (int i = 0; i < want.size(); i++)
            for (int k = 0; k < want.get(i).length; k++)
                assertEquals(want.get(i)[k], got.get(i)[k], 1e-5, what + ": parameter " + i + " element " + k);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sgd", "adamw"})
    void bspEqualsDataParallel(String kind) throws Exception {
        int n = 3;
        List<float[]> want = singleProcess(n, kind, STEPS);
        List<ParameterServer> servers = servers(2, Consistency.bsp(), n, kind, ParameterServer.Config.of(Consistency.bsp(), n).withTimeouts(TIMEOUT, TIMEOUT));
        try {
            List<Callable<List<float[]>>> tasks = new ArrayList<>();
            for (int w = 0; w < n; w++) {
                int worker = w;
                tasks.add(() -> {
                    Module m = model(7 + worker);   // different on purpose: the first pull brings the servers' values
                    try (var ps = ParameterServerClient.connect(addresses(servers), TOKEN, worker, m.parameters(), TIMEOUT)) {
                        List<float[]> v = train(ps, m, worker, n, STEPS);
                        assertEquals(0, ps.maxStaleness(), "BSP reads are never stale");
                        return v;
                    }
                });
            }
            List<List<float[]>> got = onThreads(tasks);
            for (int w = 0; w < n; w++) assertClose(want, got.get(w), "worker " + w);
            assertEquals(STEPS, servers.get(0).applied());
        } finally {
            servers.forEach(ParameterServer::close);
        }
    }
}
