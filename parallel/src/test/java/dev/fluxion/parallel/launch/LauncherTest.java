package dev.fluxion.parallel.launch;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The launcher with real child JVMs running {@link ToyRank}. */
class LauncherTest {
    /** What a run printed and returned. */
    record Run(int code, String out, String err) {}

    static Map<String, String> env() {
        Map<String, String> env = new HashMap<>();
        env.put("FLUXRUN_CLASSPATH", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        env.put("FLUXRUN_JAVA_OPTS", "-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto");
        return env;
    }

    static Run launch(String... args) {
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        int code = Launcher.run(args, env(), new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test void setsTheEnvironmentAndPrefixesEveryLineWithTheRank() {
        Run r = launch("--nproc-per-node", "2", "--timeout", "7", ToyRank.class.getName(), "env");
        assertEquals(0, r.code(), r.err());
        for (int rank = 0; rank < 2; rank++) {
            assertTrue(r.out().contains("[rank " + rank + "] RANK=" + rank + "\n"), r.out());
            assertTrue(r.out().contains("[rank " + rank + "] LOCAL_RANK=" + rank + "\n"), r.out());
            assertTrue(r.out().contains("[rank " + rank + "] FLUXION_DEVICE=cuda:" + rank + "\n"), r.out());
            assertTrue(r.out().contains("[rank " + rank + "] no newline at the end\n"), r.out());
            assertTrue(r.err().contains("[rank " + rank + "] token set: true"), r.err());
        }
        assertTrue(r.out().contains("[rank 1] WORLD_SIZE=2\n") && r.out().contains("[rank 0] LOCAL_WORLD_SIZE=2\n"), r.out());
        assertTrue(r.out().contains("[rank 0] MASTER_ADDR=127.0.0.1\n") && r.out().contains("[rank 0] FLUXION_TIMEOUT=7\n"), r.out());
        assertTrue(r.out().matches("(?s).*\\[rank 1\\] MASTER_PORT=\\d+\n.*"), r.out());
        for (String line : r.out().split("\n")) assertTrue(line.startsWith("[rank "), "unprefixed line: " + line);
    }

    @Test void aFailingRankStopsTheOthersAndTheLauncherExitsNonZero() {
        long t0 = System.nanoTime();
        Run r = launch("--nproc-per-node", "2", ToyRank.class.getName(), "fail", "1", "7");
        assertEquals(7, r.code(), r.err());
        assertTrue(r.out().contains("[rank 1] failing on purpose"), r.out());
        assertTrue(r.err().contains("[fluxrun] rank 1 failed with exit code 7; stopped the other ranks"), r.err());
        assertTrue(System.nanoTime() - t0 < 30_000_000_000L, "rank 0 (sleeping 60 s) was stopped, not waited for");
    }

    @Test void aRankDyingInTheMiddleOfCollectivesStopsTheJob() {
        Run r = launch("--nproc-per-node", "3", "--timeout", "6", ToyRank.class.getName(), "allreduce", "2");
        assertEquals(137, r.code(), r.err());
        assertTrue(r.err().contains("[fluxrun] rank 2 was killed by signal 9 (exit code 137); ranks 0, 1 name it as the cause; stopped the other ranks"), r.err());
        // the survivors get a grace period to say whom they blame (they were once stopped 300 ms after the death, mid-report)
        for (int survivor = 0; survivor < 2; survivor++) {
            String prefix = "[rank " + survivor + "] FAILED: allReduce #";
            assertTrue(r.err().lines().anyMatch(l -> l.startsWith(prefix) && l.contains("rank 2 has died")), "rank " + survivor + " reported: " + r.err());
        }
    }

    /**
     * A stopped (SIGSTOP) rank never exits; its peers time out and exit first. fluxrun must blame the rank they
     * name, not the first survivor to exit, and must not wait for the stopped one.
     */
    @Test void aStoppedRankIsBlamedNotTheFirstSurvivorToExit() {
        long t0 = System.nanoTime();
        Run r = launch("--nproc-per-node", "3", "--timeout", "5", ToyRank.class.getName(), "allreduce", "2", "stop");
        double secs = (System.nanoTime() - t0) / 1e9;
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().contains("[fluxrun] rank 2 was stopped (SIGSTOP); ranks 0, 1 name it as the cause; stopped the other ranks"), r.err());
        for (int survivor = 0; survivor < 2; survivor++)
            assertTrue(r.err().contains("[rank " + survivor + "] FLUXION_FAILED_PEER rank=2 reporter=" + survivor), r.err());
        assertTrue(secs < 5 + LaunchConfig.DEFAULT_FAILURE_GRACE + 10, "the job took " + secs + " s with a 5 s timeout");
    }

    @Test void aMultiNodeLaunchWithoutATokenIsRefusedAndSaysHowToSetOne() {
        Run r = launch("--nproc-per-node", "1", "--nnodes", "2", "--node-rank", "0", "--master-addr", "127.0.0.1", ToyRank.class.getName(), "env");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("FLUXION_STORE_TOKEN is not set") && r.err().contains("export FLUXION_STORE_TOKEN=$(openssl rand -hex 16)"), r.err());
        assertFalse(r.err().contains("[rank 0]"), "no rank was started: " + r.err());
    }

    @Test void restartsTheJobUpToMaxRestarts() {
        Run ok = launch("--nproc-per-node", "2", "--max-restarts", "2", ToyRank.class.getName(), "fail-until-restart", "2");
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.err().contains("restarting the job (restart 1 of 2)") && ok.err().contains("restarting the job (restart 2 of 2)"), ok.err());
        assertTrue(ok.out().contains("[rank 1] attempt with restart count 2"), ok.out());

        Run out = launch("--nproc-per-node", "1", "--max-restarts", "1", ToyRank.class.getName(), "fail-until-restart", "5");
        assertEquals(3, out.code(), out.err());
        assertTrue(out.err().contains("no restarts left (1 used)"), out.err());
    }

    @Test void helpPrintsTheUsageWithTheTokenAdvice() {
        Run r = launch("--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("--failure-grace SECONDS") && r.out().contains("FLUXION_STORE_TOKEN=$(openssl rand -hex 16)"), r.out());
    }

    @Test void badUsageExitsWithTwo() {
        Run r = launch("--nproc-per-node", "2");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("usage: fluxrun"), r.err());
    }
}
