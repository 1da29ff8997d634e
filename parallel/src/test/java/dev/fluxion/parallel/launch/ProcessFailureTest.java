package dev.fluxion.parallel.launch;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Real processes on 127.0.0.1: a rank killed in the middle of all-reduces is named by the others within the timeout. */
class ProcessFailureTest {
    static final int TIMEOUT_S = 6;

    static Process rank(int rank, int world, int port, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(System.getProperty("java.home") + "/bin/java", "--add-modules", "jdk.incubator.vector",
                "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")), ToyRank.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("RANK", String.valueOf(rank));
        pb.environment().put("WORLD_SIZE", String.valueOf(world));
        pb.environment().put("MASTER_ADDR", "127.0.0.1");
        pb.environment().put("MASTER_PORT", String.valueOf(port));
        pb.environment().put("FLUXION_TIMEOUT", String.valueOf(TIMEOUT_S));
        pb.environment().put("FLUXION_STORE_TOKEN", "process-test");
        return pb.start();
    }

    static int freePort() throws IOException {
        try (var s = ServerSocketChannel.open()) { s.bind(new InetSocketAddress("127.0.0.1", 0)); return ((InetSocketAddress) s.getLocalAddress()).getPort(); }
    }

    @Test void killingOneRankMidCollectiveMakesTheOthersFailNamingIt() throws Exception {
        int port = freePort(), world = 3, victim = 2;
        List<Process> ps = new ArrayList<>();
        for (int r = 0; r < world; r++) ps.add(rank(r, world, port, "allreduce", String.valueOf(victim)));
        try {
            assertTrue(ps.get(victim).waitFor(60, TimeUnit.SECONDS), "the victim halts itself");
            long died = System.nanoTime();
            assertEquals(137, ps.get(victim).exitValue());
            for (int r = 0; r < world; r++) {
                if (r == victim) continue;
                Process p = ps.get(r);
                assertTrue(p.waitFor(TIMEOUT_S + 10, TimeUnit.SECONDS), "rank " + r + " did not fail");
                double after = (System.nanoTime() - died) / 1e9;
                String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
                assertEquals(3, p.exitValue(), err);
                assertTrue(after < TIMEOUT_S + 1, "rank " + r + " failed " + after + " s after the victim died");
                assertTrue(err.contains("FAILED: allReduce #") && err.contains("rank " + victim + " has died"), "rank " + r + ": " + err);
            }
        } finally {
            for (Process p : ps) p.destroyForcibly();
        }
    }

    /**
     * Rank 0 hosts the store; stopped (SIGSTOP), it answers neither its peers nor the store. The survivors'
     * failure reports must not wait on the store past the timeout (they once took the timeout twice over,
     * plus five seconds, to give up on it).
     */
    @Test void aStoppedRankZeroMakesTheOthersFailWithinTheTimeoutNamingIt() throws Exception {
        int port = freePort(), world = 3;
        List<Process> ps = new ArrayList<>();
        for (int r = 0; r < world; r++) ps.add(rank(r, world, port, "allreduce", "0", "none"));
        try {
            var in = new java.io.BufferedReader(new java.io.InputStreamReader(ps.get(0).getInputStream(), StandardCharsets.UTF_8));
            assertEquals("looping", in.readLine(), "rank 0 runs all-reduces");
            new ProcessBuilder("kill", "-STOP", String.valueOf(ps.get(0).pid())).start().waitFor();
            long stopped = System.nanoTime();
            for (int r = 1; r < world; r++) {
                Process p = ps.get(r);
                assertTrue(p.waitFor(3L * TIMEOUT_S + 10, TimeUnit.SECONDS), "rank " + r + " did not fail");
                double after = (System.nanoTime() - stopped) / 1e9;
                String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
                assertEquals(3, p.exitValue(), err);
                assertTrue(err.contains("rank 0"), "rank " + r + " names rank 0: " + err);
                assertTrue(after < TIMEOUT_S + 2, "rank " + r + " failed " + after + " s after rank 0 stopped; the timeout is " + TIMEOUT_S + " s: " + err);
            }
        } finally {
            for (Process p : ps) p.destroyForcibly();
        }
    }

    @Test void threeHealthyProcessesAgree() throws Exception {
        int port = freePort();
        List<Process> ps = new ArrayList<>();
        for (int r = 0; r < 3; r++) ps.add(rank(r, 3, port, "allreduce"));
        try {
            for (Process p : ps) {
                assertTrue(p.waitFor(60, TimeUnit.SECONDS));
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertEquals(0, p.exitValue(), new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
                assertTrue(out.contains("sum 27"), out);   // 1 -> 3 -> 9 -> 27 after three sums over three ranks
            }
        } finally {
            for (Process p : ps) p.destroyForcibly();
        }
    }
}
