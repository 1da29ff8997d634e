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
        assertTrue(r.err().contains("[fluxrun] rank 2 was killed by signal 9 (exit code 137); stopped the other ranks"), r.err());
        // the survivors either noticed first (and said whom they blame) or were stopped by the launcher before they could
        for (String line : r.err().split("\n"))
            if (line.contains("FAILED:")) assertTrue(line.contains("rank 2 has died"), line);
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

    @Test void badUsageExitsWithTwo() {
        Run r = launch("--nproc-per-node", "2");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("usage: fluxrun"), r.err());
    }
}
