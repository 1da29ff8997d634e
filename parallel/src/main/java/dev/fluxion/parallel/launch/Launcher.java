package dev.fluxion.parallel.launch;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;

/**
 * The Java side of {@code bin/fluxrun}: starts this node's ranks as child JVMs (see {@link LaunchConfig} for
 * the options), prefixes their output with their rank, and supervises them. When a rank exits non-zero the
 * others are stopped (SIGTERM, then SIGKILL after ten seconds); the job is then restarted, up to
 * --max-restarts times, with FLUXION_RESTART_COUNT raised by one, or the launcher exits with that rank's
 * exit code.
 *
 * <p>Each rank gets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK (the node rank), MASTER_ADDR,
 * MASTER_PORT, FLUXION_RESTART_COUNT, FLUXION_DEVICE (cuda:LOCAL_RANK: its GPU, if there are GPUs) and
 * FLUXION_STORE_TOKEN (made here for single-node jobs unless already set), plus FLUXION_TIMEOUT with --timeout.
 * The child JVMs run on this JVM's classpath (or FLUXRUN_CLASSPATH) with the flags Fluxion needs.
 */
public final class Launcher {
    private static final List<String> JVM_FLAGS = List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED");
    private static final long KILL_GRACE_MS = 10_000;

    private final LaunchConfig config;
    private final Map<String, String> env;
    private final PrintStream out, err;
    private final String token;
    private final int port;

    private Launcher(LaunchConfig config, Map<String, String> env, PrintStream out, PrintStream err) throws IOException {
        this.config = config;
        this.env = env;
        this.out = out;
        this.err = err;
        String t = env.get("FLUXION_STORE_TOKEN");
        if ((t == null || t.isEmpty()) && config.nnodes() == 1) {
            byte[] b = new byte[16];
            new SecureRandom().nextBytes(b);
            t = HexFormat.of().formatHex(b);
        }
        this.token = t == null ? "" : t;
        this.port = config.masterPort().isPresent() ? config.masterPort().getAsInt() : freePort(config.masterAddr());
    }

    public static void main(String[] args) {
        System.exit(run(args, System.getenv(), System.out, System.err));
    }

    /** Runs the job; returns the launcher's exit code (0 when every rank succeeded, 2 for bad usage). */
    public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
        LaunchConfig config;
        try {
            config = LaunchConfig.parse(args, env);
        } catch (IllegalArgumentException e) {
            err.println("fluxrun: " + e.getMessage());
            err.println(LaunchConfig.USAGE);
            return 2;
        }
        try {
            return new Launcher(config, env, out, err).supervise();
        } catch (IOException e) {
            err.println("[fluxrun] cannot start the job: " + e.getMessage());
            return 1;
        }
    }

    private record Child(int rank, Process process, List<OutputPump> pumps) {}

    private int supervise() throws IOException {
        List<String> command = command();
        LaunchConfig.Ranks r = config.ranks();
        err.printf("[fluxrun] starting ranks %d..%d of %d (%s) with master %s:%d%n", r.base(), r.base() + r.count() - 1, r.world(),
                config.target(), config.masterAddr(), port);
        for (int attempt = 0; ; attempt++) {
            List<Child> children = new ArrayList<>();
            Thread hook = new Thread(() -> children.forEach(c -> c.process().destroy()), "fluxrun-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            int failedRank = -1, code = 0;
            try {
                for (int i = 0; i < r.count(); i++) children.add(start(command, i, attempt));
                // wait for the first failure, or for everyone to finish
                List<Child> running = new ArrayList<>(children);
                while (!running.isEmpty() && failedRank < 0) {
                    for (Child c : new ArrayList<>(running)) {
                        if (c.process().isAlive()) continue;
                        running.remove(c);
                        int exit = c.process().exitValue();
                        if (exit != 0) { failedRank = c.rank(); code = exit; break; }
                    }
                    if (failedRank < 0 && !running.isEmpty()) sleep(25);
                }
                if (failedRank >= 0) {
                    // Peers of a dead rank fail within milliseconds of it, and polling may see them first: give the
                    // others a moment, then blame a rank killed by a signal (it did not fail because of a peer).
                    long until = System.nanoTime() + 300_000_000L;
                    while (System.nanoTime() < until && running.stream().anyMatch(c -> c.process().isAlive())) sleep(25);
                    for (Child c : children)
                        if (!c.process().isAlive() && c.process().exitValue() > 128 && code <= 128) { failedRank = c.rank(); code = c.process().exitValue(); }
                    stop(children);
                }
                for (Child c : children) for (OutputPump p : c.pumps()) join(p);
            } finally {
                try { Runtime.getRuntime().removeShutdownHook(hook); } catch (IllegalStateException shuttingDown) { /* the hook runs */ }
            }
            if (failedRank < 0) {
                err.printf("[fluxrun] all %d ranks finished%n", r.count());
                return 0;
            }
            String why = describe(code);
            if (attempt < config.maxRestarts()) {
                err.printf("[fluxrun] rank %d %s; stopped the other ranks; restarting the job (restart %d of %d)%n", failedRank, why, attempt + 1, config.maxRestarts());
                continue;
            }
            err.printf("[fluxrun] rank %d %s; stopped the other ranks%s%n", failedRank, why,
                    config.maxRestarts() > 0 ? "; no restarts left (" + config.maxRestarts() + " used)" : "");
            return code;
        }
    }

    private static String describe(int code) {
        return code > 128 ? "was killed by signal " + (code - 128) + " (exit code " + code + ")" : "failed with exit code " + code;
    }

    private Child start(List<String> command, int i, int restart) throws IOException {
        LaunchConfig.Ranks r = config.ranks();
        int rank = r.base() + i, local = r.localBase() + i;
        ProcessBuilder pb = new ProcessBuilder(command);
        Map<String, String> e = pb.environment();
        e.put("RANK", String.valueOf(rank));
        e.put("WORLD_SIZE", String.valueOf(r.world()));
        e.put("LOCAL_RANK", String.valueOf(local));
        e.put("LOCAL_WORLD_SIZE", String.valueOf(r.localWorld()));
        e.put("GROUP_RANK", String.valueOf(config.nodeRank()));
        e.put("MASTER_ADDR", config.masterAddr());
        e.put("MASTER_PORT", String.valueOf(port));
        e.put("FLUXION_RESTART_COUNT", String.valueOf(restart));
        e.put("FLUXION_DEVICE", "cuda:" + local);
        if (!token.isEmpty()) e.put("FLUXION_STORE_TOKEN", token);
        if (config.timeoutSeconds() != null) e.put("FLUXION_TIMEOUT", config.timeoutSeconds());
        Process p = pb.start();
        p.getOutputStream().close();
        String prefix = "[rank " + rank + "] ";
        List<OutputPump> pumps = List.of(new OutputPump(p.getInputStream(), out, prefix), new OutputPump(p.getErrorStream(), err, prefix));
        pumps.forEach(Thread::start);
        return new Child(rank, p, pumps);
    }

    private List<String> command() throws IOException {
        String cp = env.getOrDefault("FLUXRUN_CLASSPATH", System.getProperty("java.class.path"));
        String main = config.target();
        if (main.endsWith(".jar")) {
            File jar = new File(main);
            if (!jar.isFile()) throw new IOException("no such jar: " + jar.getAbsolutePath());
            try (JarFile jf = new JarFile(jar)) {
                var mf = jf.getManifest();
                main = mf == null ? null : mf.getMainAttributes().getValue("Main-Class");
            }
            if (main == null) throw new IOException(jar + " has no Main-Class in its manifest; pass the class name instead");
            cp = jar.getAbsolutePath() + File.pathSeparator + cp;
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
        cmd.addAll(JVM_FLAGS);
        String opts = env.getOrDefault("FLUXRUN_JAVA_OPTS", "").trim();
        if (!opts.isEmpty()) cmd.addAll(List.of(opts.split("\\s+")));
        cmd.addAll(config.jvmArgs());
        cmd.add("-cp");
        cmd.add(cp);
        cmd.add(main);
        cmd.addAll(config.targetArgs());
        return cmd;
    }

    /** SIGTERM to every rank still running, SIGKILL to those still there after the grace period. */
    private void stop(List<Child> children) {
        for (Child c : children) if (c.process().isAlive()) c.process().destroy();
        long deadline = System.nanoTime() + KILL_GRACE_MS * 1_000_000;
        for (Child c : children) {
            try {
                long left = Math.max(0, deadline - System.nanoTime());
                if (!c.process().waitFor(left, TimeUnit.NANOSECONDS)) {
                    err.printf("[fluxrun] rank %d did not stop within %d s; killing it%n", c.rank(), KILL_GRACE_MS / 1000);
                    c.process().destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                c.process().destroyForcibly();
            }
        }
    }

    /** A port nobody listens on now, for single-node jobs that did not name one. */
    private static int freePort(String addr) throws IOException {
        try (ServerSocketChannel s = ServerSocketChannel.open()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(addr), 0));
            return ((InetSocketAddress) s.getLocalAddress()).getPort();
        }
    }

    private static void join(Thread t) {
        try { t.join(5000); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
    }

    private static void sleep(long ms) {
        try { Thread.sleep(ms); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
    }
}
