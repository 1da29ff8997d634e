package dev.fluxion.parallel.launch;

import dev.fluxion.parallel.FailedPeer;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;

/**
 * The Java side of {@code bin/fluxrun}: starts this node's ranks as child JVMs (see {@link LaunchConfig} for
 * the options), prefixes their output with their rank, and supervises them. When a rank exits non-zero the
 * others get --failure-grace seconds to report whom they blame and exit; then the rest are stopped
 * (SIGKILL for a stopped process, else SIGTERM and SIGKILL after ten seconds), the rank to blame is named
 * ({@link Culprit}), and the job is restarted, up to --max-restarts times, with FLUXION_RESTART_COUNT raised
 * by one, or the launcher exits with the culprit's exit code (the first failure's when the culprit never exited).
 *
 * <p>Each rank gets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK (the node rank), MASTER_ADDR,
 * MASTER_PORT, FLUXION_RESTART_COUNT, FLUXION_DEVICE (cuda:LOCAL_RANK: its GPU, if there are GPUs),
 * FLUXION_STORE_TOKEN (made here when this launcher starts the whole job and none is set; required otherwise)
 * and FLUXION_FAILED_PEER_LINES, plus FLUXION_TIMEOUT with --timeout. The child JVMs run on this JVM's
 * classpath (or FLUXRUN_CLASSPATH) with the flags Fluxion needs.
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
        this.token = token(config, env);
        this.port = config.masterPort().isPresent() ? config.masterPort().getAsInt() : freePort(config.masterAddr());
    }

    /**
     * The store token for the ranks: FLUXION_STORE_TOKEN when set, else a random one when this launcher starts
     * every rank; a job spread over several launchers (nodes, Slurm tasks) needs one secret they all share, so
     * without it the launch is refused.
     */
    static String token(LaunchConfig config, Map<String, String> env) {
        String t = env.getOrDefault("FLUXION_STORE_TOKEN", "");
        if (!t.isEmpty()) return t;
        if (!config.startsWholeJob())
            throw new IllegalArgumentException("FLUXION_STORE_TOKEN is not set; a job on " + config.nnodes() + " node(s) started by several launchers needs one shared secret "
                    + "for its store (rank 0 admits only clients that present it). Set the same value on every node before starting fluxrun, e.g. "
                    + "export FLUXION_STORE_TOKEN=$(openssl rand -hex 16) on node 0 and pass that value to the others (srun passes the environment on)");
        byte[] b = new byte[16];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    public static void main(String[] args) {
        System.exit(run(args, System.getenv(), System.out, System.err));
    }

    /** Runs the job; returns the launcher's exit code (0 when every rank succeeded, 2 for bad usage). */
    public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
        if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
            out.println(LaunchConfig.USAGE);
            return 0;
        }
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
        } catch (IllegalArgumentException e) {
            err.println("fluxrun: " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println("[fluxrun] cannot start the job: " + e.getMessage());
            return 1;
        }
    }

    /** A started rank, with the ranks it has named as the cause of a failure (from its FLUXION_FAILED_PEER lines). */
    private record Child(int rank, Process process, List<OutputPump> pumps, Set<Integer> named) {}

    private int supervise() throws IOException {
        List<String> command = command();
        LaunchConfig.Ranks r = config.ranks();
        err.printf("[fluxrun] starting ranks %d..%d of %d (%s) with master %s:%d%n", r.base(), r.base() + r.count() - 1, r.world(),
                config.target(), config.masterAddr(), port);
        for (int attempt = 0; ; attempt++) {
            List<Child> children = new ArrayList<>();
            Thread hook = new Thread(() -> children.forEach(c -> c.process().destroy()), "fluxrun-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            Culprit culprit = null;
            try {
                for (int i = 0; i < r.count(); i++) children.add(start(command, i, attempt));
                Child first = firstFailure(children);
                if (first != null) {
                    int firstCode = first.process().exitValue();
                    awaitReports(children);
                    culprit = Culprit.of(seen(children), first.rank(), firstCode, config::nodeOf);
                    if (culprit.rank() != first.rank())
                        err.printf("[fluxrun] rank %d exited first (%s)%n", first.rank(), Culprit.describe(firstCode));
                    stop(children);
                }
                for (Child c : children) for (OutputPump p : c.pumps()) join(p);
            } finally {
                try { Runtime.getRuntime().removeShutdownHook(hook); } catch (IllegalStateException shuttingDown) { /* the hook runs */ }
            }
            if (culprit == null) {
                err.printf("[fluxrun] all %d ranks finished%n", r.count());
                return 0;
            }
            if (attempt < config.maxRestarts()) {
                err.printf("[fluxrun] rank %d %s; stopped the other ranks; restarting the job (restart %d of %d)%n", culprit.rank(), culprit.why(), attempt + 1, config.maxRestarts());
                continue;
            }
            err.printf("[fluxrun] rank %d %s; stopped the other ranks%s%n", culprit.rank(), culprit.why(),
                    config.maxRestarts() > 0 ? "; no restarts left (" + config.maxRestarts() + " used)" : "");
            return culprit.exitCode();
        }
    }

    /** Waits until a rank exits non-zero (returned) or every rank has exited 0 (null). */
    private static Child firstFailure(List<Child> children) {
        List<Child> running = new ArrayList<>(children);
        while (!running.isEmpty()) {
            for (Child c : new ArrayList<>(running)) {
                if (c.process().isAlive()) continue;
                running.remove(c);
                if (c.process().exitValue() != 0) return c;
            }
            if (!running.isEmpty()) sleep(25);
        }
        return null;
    }

    /**
     * The grace period after the first failure: the other ranks' peers fail too (at once when a rank died, at
     * their timeout when it stalled), report whom they blame and exit. Wait for them, up to --failure-grace,
     * but not for stopped processes, which cannot exit.
     */
    private void awaitReports(List<Child> children) {
        long until = System.nanoTime() + Math.round(config.failureGraceSeconds() * 1e9);
        while (System.nanoTime() - until < 0 && children.stream().anyMatch(c -> c.process().isAlive() && !isStopped(c.process()))) sleep(25);
    }

    private static List<Culprit.Seen> seen(List<Child> children) {
        List<Culprit.Seen> out = new ArrayList<>();
        for (Child c : children) {
            boolean alive = c.process().isAlive();
            out.add(new Culprit.Seen(c.rank(), alive ? null : c.process().exitValue(), alive && isStopped(c.process()), Set.copyOf(c.named())));
        }
        return out;
    }

    /** True when the process is stopped (SIGSTOP, or stopped by a debugger): read from Linux's /proc; false elsewhere. */
    static boolean isStopped(Process p) {
        try {
            String stat = Files.readString(Path.of("/proc", String.valueOf(p.pid()), "stat"));
            int close = stat.lastIndexOf(')');
            char state = close >= 0 && close + 2 < stat.length() ? stat.charAt(close + 2) : '?';
            return state == 'T' || state == 't';
        } catch (IOException | RuntimeException e) {
            return false;
        }
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
        e.put("FLUXION_STORE_TOKEN", token);
        e.put(FailedPeer.ENV, "1");
        if (config.timeoutSeconds() != null) e.put("FLUXION_TIMEOUT", config.timeoutSeconds());
        Process p = pb.start();
        p.getOutputStream().close();
        String prefix = "[rank " + rank + "] ";
        Set<Integer> named = ConcurrentHashMap.newKeySet();
        java.util.function.Consumer<String> listen = line -> { for (FailedPeer.Blame b : FailedPeer.parse(line)) named.add(b.rank()); };
        List<OutputPump> pumps = List.of(new OutputPump(p.getInputStream(), out, prefix, listen), new OutputPump(p.getErrorStream(), err, prefix, listen));
        pumps.forEach(Thread::start);
        return new Child(rank, p, pumps, named);
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

    /**
     * SIGTERM to every rank still running, SIGKILL to those still there after the grace period. A stopped
     * process gets SIGKILL at once: it cannot act on SIGTERM until continued.
     */
    private void stop(List<Child> children) {
        for (Child c : children) {
            if (!c.process().isAlive()) continue;
            if (isStopped(c.process())) c.process().destroyForcibly(); else c.process().destroy();
        }
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
