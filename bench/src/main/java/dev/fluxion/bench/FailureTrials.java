package dev.fluxion.bench;

import dev.fluxion.parallel.FailedPeer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kill and stop trials: each trial starts a small DDP training ({@link FailureTrialRank}) on 3 or 4 ranks through
 * {@code bin/fluxrun}, waits until every rank trains, then at a random moment kills (SIGKILL) or stops (SIGSTOP)
 * a random rank. It counts hangs (the job not over within timeout + failure grace + margin), whether every
 * survivor named the victim (its FLUXION_FAILED_PEER lines), and whether fluxrun blamed it. Prints one row per
 * trial and the totals.
 *
 * <pre>
 * mvn -B -q -o -pl bench -am -DskipTests package
 * mvn -B -q -o -pl bench dependency:build-classpath -Dmdep.outputFile=/tmp/bench-cp.txt
 * java -cp "bench/target/classes:$(cat /tmp/bench-cp.txt)" dev.fluxion.bench.FailureTrials [--trials 20] [--timeout 10] [--grace 5] [--seed S]
 * </pre>
 * Run from the repository root (it starts bin/fluxrun --classpath with this JVM's class path).
 */
public final class FailureTrials {
    private FailureTrials() {}

    record Trial(int n, int victim, String action, double delay, int namedBy, int survivors, boolean exact, boolean blamed,
                 double failSecs, double exitSecs, boolean hang, int code, String launcherSaid) {}

    public static void main(String[] args) throws Exception {
        Map<String, String> o = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) o.put(args[i], args[i + 1]);
        int trials = Integer.parseInt(o.getOrDefault("--trials", "20"));
        int timeout = Integer.parseInt(o.getOrDefault("--timeout", "10"));
        int grace = Integer.parseInt(o.getOrDefault("--grace", "5"));
        int margin = Integer.parseInt(o.getOrDefault("--margin", "10"));
        long seed = Long.parseLong(o.getOrDefault("--seed", String.valueOf(System.nanoTime())));
        Random rnd = new Random(seed);
        System.out.printf(Locale.ROOT, "Kill/stop trials: %d trials, --timeout %d s, --failure-grace %d s, hang = not over %d s after the fault; seed %d; %d cores, load %s%n",
                trials, timeout, grace, timeout + grace + margin, seed, Runtime.getRuntime().availableProcessors(), load());
        List<Trial> done = new ArrayList<>();
        System.out.printf("%3s %5s %6s %6s %7s %14s %8s %9s %9s %5s  %s%n", "#", "ranks", "victim", "action", "delay s", "named by", "blamed", "fail s", "exit s", "hang", "fluxrun said");
        for (int t = 0; t < trials; t++) {
            int n = 3 + rnd.nextInt(2);
            Trial r = trial(n, rnd.nextInt(n), rnd.nextBoolean() ? "kill" : "stop", 0.2 + 3 * rnd.nextDouble(), timeout, grace, margin);
            done.add(r);
            System.out.printf(Locale.ROOT, "%3d %5d %6d %6s %7.1f %14s %8s %9.1f %9.1f %5s  %s%n", t + 1, r.n(), r.victim(), r.action(), r.delay(),
                    r.namedBy() + "/" + r.survivors() + (r.exact() ? "" : " (+others)"), r.blamed() ? "yes" : "NO", r.failSecs(), r.exitSecs(), r.hang() ? "HANG" : "no", r.launcherSaid());
        }
        long hangs = done.stream().filter(Trial::hang).count();
        long allNamed = done.stream().filter(r -> r.namedBy() == r.survivors()).count();
        long exact = done.stream().filter(r -> r.namedBy() == r.survivors() && r.exact()).count();
        long blamed = done.stream().filter(Trial::blamed).count();
        double worstExit = done.stream().mapToDouble(Trial::exitSecs).max().orElse(0);
        System.out.printf(Locale.ROOT, "%nhangs: %d of %d; every survivor named the victim: %d of %d (%d naming only it); fluxrun blamed the victim: %d of %d; slowest job end after the fault: %.1f s; load %s%n",
                hangs, trials, allNamed, trials, exact, blamed, trials, worstExit, load());
    }

    static String load() {
        try { return Files.readString(Path.of("/proc/loadavg")).trim(); } catch (IOException e) { return "?"; }
    }

    record Line(long nanos, String text) {}

    static Trial trial(int n, int victim, String action, double delay, int timeout, int grace, int margin) throws Exception {
        List<String> cmd = List.of("bin/fluxrun", "--classpath", System.getProperty("java.class.path"), "--nproc-per-node", String.valueOf(n),
                "--timeout", String.valueOf(timeout), "--failure-grace", String.valueOf(grace), FailureTrialRank.class.getName());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("FLUXRUN_JAVA_OPTS", "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1");
        Process launcher = pb.start();
        List<Line> lines = new ArrayList<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(launcher.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) synchronized (lines) { lines.add(new Line(System.nanoTime(), l)); lines.notifyAll(); }
            } catch (IOException ignored) { }
        });
        reader.setDaemon(true);
        reader.start();
        long victimPid = -1;
        try {
            long until = System.nanoTime() + 120_000_000_000L;
            synchronized (lines) {
                while (lines.stream().filter(l -> l.text().matches("\\[rank \\d+\\] ready")).count() < n) {
                    if (System.nanoTime() > until || !launcher.isAlive()) throw new IllegalStateException("the job did not start: " + text(lines));
                    lines.wait(100);
                }
            }
            victimPid = rankPid(launcher, victim);
            Thread.sleep(Math.round(delay * 1000));
            new ProcessBuilder("kill", action.equals("kill") ? "-KILL" : "-STOP", String.valueOf(victimPid)).start().waitFor();
            long fault = System.nanoTime();
            boolean over = launcher.waitFor(timeout + grace + margin, TimeUnit.SECONDS);
            double exitSecs = (System.nanoTime() - fault) / 1e9;
            reader.join(5000);
            List<Line> all;
            synchronized (lines) { all = new ArrayList<>(lines); }
            int named = 0;
            boolean exact = true;
            double lastFail = 0;
            for (int r = 0; r < n; r++) {
                if (r == victim) continue;
                Set<Integer> blames = new TreeSet<>();
                String prefix = "[rank " + r + "] ";
                for (Line l : all) {
                    if (!l.text().startsWith(prefix)) continue;
                    for (FailedPeer.Blame b : FailedPeer.parse(l.text())) blames.add(b.rank());
                    if (l.text().startsWith(prefix + "FAILED:")) lastFail = Math.max(lastFail, (l.nanos() - fault) / 1e9);
                }
                if (blames.contains(victim)) named++;
                if (!blames.isEmpty() && !blames.equals(Set.of(victim))) exact = false;
            }
            String verdict = "";
            for (Line l : all) if (l.text().startsWith("[fluxrun] rank ") && l.text().contains("stopped the other ranks")) verdict = l.text();
            Matcher m = Pattern.compile("^\\[fluxrun\\] rank (\\d+) ").matcher(verdict);
            boolean blamed = m.find() && Integer.parseInt(m.group(1)) == victim;
            String said = verdict.replace("[fluxrun] ", "").replace("; stopped the other ranks", "");
            return new Trial(n, victim, action, delay, named, n - 1, exact, blamed, lastFail, exitSecs, !over, over ? launcher.exitValue() : -1,
                    said.length() > 90 ? said.substring(0, 90) + "..." : said);
        } finally {
            if (launcher.isAlive()) {
                launcher.descendants().forEach(ProcessHandle::destroyForcibly);
                launcher.destroyForcibly();
            }
            if (victimPid > 0) ProcessHandle.of(victimPid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    /** The pid of the launcher's child whose environment says RANK=rank. */
    static long rankPid(Process launcher, int rank) throws IOException {
        for (ProcessHandle h : launcher.children().toList()) {
            byte[] env = Files.readAllBytes(Path.of("/proc", String.valueOf(h.pid()), "environ"));
            for (String kv : new String(env, StandardCharsets.UTF_8).split("\0")) if (kv.equals("RANK=" + rank)) return h.pid();
        }
        throw new IllegalStateException("no child of the launcher has RANK=" + rank);
    }

    private static String text(List<Line> lines) {
        StringBuilder b = new StringBuilder();
        for (Line l : lines) b.append(l.text()).append('\n');
        return b.toString();
    }
}
