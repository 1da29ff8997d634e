package dev.fluxion.parallel;

import dev.fluxion.parallel.store.TcpStore;
import dev.fluxion.parallel.store.TcpStoreServer;
import dev.fluxion.parallel.tcp.TcpProcessGroup;
import dev.fluxion.tensor.Device;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

/**
 * Joins the job that {@code bin/fluxrun} (or Slurm, or you) started: reads the environment, has rank 0 host
 * the rendezvous store on MASTER_ADDR:MASTER_PORT, and returns the world's process group.
 *
 * <pre>{@code
 * if (Distributed.isDistributed()) {
 *     ProcessGroup pg = Distributed.initFromEnv();
 *     model = new DistributedDataParallel(model, pg);
 * }
 * }</pre>
 *
 * Variables: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR (default 127.0.0.1), MASTER_PORT
 * (default 29500), FLUXION_TIMEOUT (seconds every wait may last, default 300), FLUXION_STORE_TOKEN (shared
 * secret the store asks for; the launcher makes one per single-node job), FLUXION_RESTART_COUNT (how often
 * the launcher has restarted the job), FLUXION_SOCKET_BUFFER (bytes; 0 = kernel autotuning), FLUXION_BACKEND
 * (auto: NCCL for CUDA tensors next to TCP for CPU tensors when the CUDA backend and NCCL are present, else TCP
 * only; tcp; nccl: fail unless NCCL can be used), FLUXION_DEVICE (cuda:N, this rank's GPU; the launcher sets it).
 */
public final class Distributed {
    private Distributed() {}

    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(300);

    /** What the launcher told this process. */
    public record Env(int rank, int worldSize, int localRank, int localWorldSize, String masterAddr, int masterPort,
                      int restartCount, Duration timeout, byte[] token, int socketBuffer, String backend) {
        public Env {
            if (worldSize < 1) throw new IllegalArgumentException("WORLD_SIZE must be >= 1, got " + worldSize);
            if (rank < 0 || rank >= worldSize) throw new IllegalArgumentException("RANK " + rank + " is not in [0, WORLD_SIZE=" + worldSize + ")");
            if (masterPort < 0 || masterPort > 65535) throw new IllegalArgumentException("MASTER_PORT " + masterPort + " is not a port");
            if (localWorldSize < 1 || localRank < 0 || localRank >= localWorldSize)
                throw new IllegalArgumentException("LOCAL_RANK " + localRank + " is not in [0, LOCAL_WORLD_SIZE=" + localWorldSize + ")");
            if (restartCount < 0) throw new IllegalArgumentException("FLUXION_RESTART_COUNT must be >= 0, got " + restartCount);
            if (socketBuffer < 0) throw new IllegalArgumentException("FLUXION_SOCKET_BUFFER must be >= 0, got " + socketBuffer);
            if (timeout == null || timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("FLUXION_TIMEOUT must be positive, got " + timeout);
            if (!java.util.List.of("auto", "tcp", "nccl").contains(backend))
                throw new IllegalArgumentException("FLUXION_BACKEND='" + backend + "' is not auto, tcp or nccl");
        }

        public static Env fromSystem() { return from(System.getenv()); }

        /** This environment with another store token. */
        public Env withToken(byte[] t) {
            return new Env(rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, restartCount, timeout, t, socketBuffer, backend);
        }

        /** Parses the variables (absent: a world of one on 127.0.0.1:29500). */
        public static Env from(Map<String, String> env) {
            int world = integer(env, "WORLD_SIZE", 1);
            int rank = integer(env, "RANK", 0);
            String timeout = env.getOrDefault("FLUXION_TIMEOUT", "");
            Duration t = timeout.isBlank() ? DEFAULT_TIMEOUT : Duration.ofMillis(Math.round(parseDouble("FLUXION_TIMEOUT", timeout) * 1000));
            String token = env.getOrDefault("FLUXION_STORE_TOKEN", "");
            return new Env(rank, world, integer(env, "LOCAL_RANK", rank), integer(env, "LOCAL_WORLD_SIZE", world),
                    env.getOrDefault("MASTER_ADDR", "127.0.0.1"), integer(env, "MASTER_PORT", 29500), integer(env, "FLUXION_RESTART_COUNT", 0),
                    t, token.getBytes(StandardCharsets.UTF_8), integer(env, "FLUXION_SOCKET_BUFFER", 0),
                    env.getOrDefault("FLUXION_BACKEND", "auto").trim().toLowerCase(java.util.Locale.ROOT));
        }

        private static int integer(Map<String, String> env, String key, int dflt) {
            String v = env.get(key);
            if (v == null || v.isBlank()) return dflt;
            try { return Integer.parseInt(v.trim()); } catch (NumberFormatException e) {
                throw new IllegalArgumentException(key + "='" + v + "' is not an integer");
            }
        }

        private static double parseDouble(String key, String v) {
            double d;
            try { d = Double.parseDouble(v.trim()); } catch (NumberFormatException e) { d = Double.NaN; }
            if (!(d > 0 && d < Double.POSITIVE_INFINITY)) throw new IllegalArgumentException(key + "='" + v + "' is not a positive, finite number of seconds");
            return d;
        }
    }

    /** True when WORLD_SIZE says this process is one of several. */
    public static boolean isDistributed() { return Env.fromSystem().worldSize() > 1; }

    /** The world group of the job described by the environment. */
    public static ProcessGroup initFromEnv() { return init(Env.fromSystem()); }

    /** The world group for env: rank 0 starts the store, every rank connects to it and joins the TCP group. */
    public static ProcessGroup init(Env env) {
        if (env.token().length == 0) {
            if (env.worldSize() > 1)
                throw new DistributedException("rank " + env.rank() + ": FLUXION_STORE_TOKEN is not set; the store on rank 0 admits only clients that present "
                        + "a shared secret. bin/fluxrun sets one for single-node jobs; otherwise set the same value for every rank, e.g. "
                        + "export FLUXION_STORE_TOKEN=$(openssl rand -hex 16)");
            env = env.withToken(randomToken());   // a world of one: nobody else needs to know it
        }
        TcpStoreServer server = null;
        if (env.rank() == 0) {
            try {
                server = TcpStoreServer.start(new InetSocketAddress(InetAddress.getByName(env.masterAddr()), env.masterPort()), env.token(), env.restartCount());
            } catch (IOException e) {
                throw new DistributedException("rank 0 cannot host the store: " + e.getMessage(), e);
            }
        }
        TcpStore store = null;
        try {
            store = TcpStore.connect(env.masterAddr(), env.masterPort(), env.token(), env.timeout(), "rank " + env.rank(), env.restartCount());
            var options = TcpProcessGroup.Options.DEFAULT.withTimeout(env.timeout()).withSocketBuffer(env.socketBuffer())
                    .withNamespace("fluxion/restart" + env.restartCount());
            TcpProcessGroup pg = TcpProcessGroup.create(store, env.rank(), env.worldSize(), options);
            pg.closeWith(store);
            if (server != null) pg.closeWith(server);
            ProcessGroup gpu = ncclGroup(env, store, options.namespace());
            return gpu == null ? pg : new RoutedProcessGroup(pg, gpu);
        } catch (RuntimeException e) {
            if (store != null) store.close();
            if (server != null) server.close();
            throw e;
        }
    }

    private static byte[] randomToken() {
        byte[] b = new byte[16];
        new java.security.SecureRandom().nextBytes(b);
        return java.util.HexFormat.of().formatHex(b).getBytes(StandardCharsets.US_ASCII);
    }

    /** The NCCL group for CUDA tensors, when the backend setting and this machine allow it; null otherwise. */
    private static ProcessGroup ncclGroup(Env env, TcpStore store, String namespace) {
        if (env.backend().equals("tcp")) return null;
        Device device = localDevice();   // first, so that a CPU-only run never loads the CUDA libraries
        java.util.Optional<String> why = device.kind() != Device.Kind.CUDA ? java.util.Optional.of("this rank has no CUDA device (no CUDA backend loaded)")
                : dev.fluxion.parallel.nccl.Nccl.unavailableReason();
        var bridge = why.isEmpty() ? dev.fluxion.parallel.nccl.Nccl.cudaTensors() : java.util.Optional.<dev.fluxion.parallel.nccl.CudaTensors>empty();
        if (why.isEmpty() && bridge.isEmpty()) why = java.util.Optional.of("the CUDA backend (native module) provides no CudaTensors service yet");
        if (why.isPresent()) {
            if (env.backend().equals("nccl")) throw new DistributedException("FLUXION_BACKEND=nccl, but " + why.get());
            return null;
        }
        return dev.fluxion.parallel.nccl.NcclProcessGroup.create(store, env.rank(), env.worldSize(), device, bridge.get(), env.timeout(), namespace);
    }

    /**
     * The device this rank should compute on: its own GPU (cuda:LOCAL_RANK) when a CUDA backend is loaded,
     * else the CPU.
     */
    public static Device localDevice() {
        Device best = Device.best();
        if (best.kind() != Device.Kind.CUDA) return Device.CPU;
        String hint = System.getenv("FLUXION_DEVICE");
        return hint != null && !hint.isBlank() ? Device.parse(hint) : Device.cuda(Env.fromSystem().localRank());
    }
}
