package dev.fluxion.parallel.launch;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class LaunchConfigTest {
    @Test void parsesOptionsAndTheProgram() {
        var c = LaunchConfig.parse(new String[] {"--nproc-per-node", "4", "--nnodes=2", "--node-rank", "1", "--master-addr", "10.0.0.1",
                "--master-port", "1234", "--max-restarts", "3", "--jvm-arg", "-Xmx2g", "my.Main", "--steps", "10"}, Map.of());
        assertEquals(4, c.nprocPerNode());
        assertEquals(new LaunchConfig.Ranks(4, 4, 0, 4, 8), c.ranks());
        assertEquals("10.0.0.1", c.masterAddr());
        assertEquals(1234, c.masterPort().getAsInt());
        assertEquals(3, c.maxRestarts());
        assertEquals(List.of("-Xmx2g"), c.jvmArgs());
        assertEquals("my.Main", c.target());
        assertEquals(List.of("--steps", "10"), c.targetArgs());
    }

    @Test void singleNodeDefaultsToLoopbackAndAFreePort() {
        var c = LaunchConfig.parse(new String[] {"--nproc-per-node", "2", "my.Main"}, Map.of());
        assertEquals("127.0.0.1", c.masterAddr());
        assertTrue(c.masterPort().isEmpty());
        assertEquals(new LaunchConfig.Ranks(0, 2, 0, 2, 2), c.ranks());
    }

    @Test void badUsageIsExplained() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LaunchConfig.parse(new String[] {"--nproc-per-node", "2"}, Map.of()))
                .getMessage().contains("no MAIN_CLASS_OR_JAR"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LaunchConfig.parse(new String[] {"--nnodes", "2", "x.Main"}, Map.of()))
                .getMessage().contains("--master-addr is required"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LaunchConfig.parse(new String[] {"--bogus", "1", "x.Main"}, Map.of()))
                .getMessage().contains("unknown option --bogus"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LaunchConfig.parse(new String[] {"--nproc-per-node", "two", "x.Main"}, Map.of()))
                .getMessage().contains("'two'"));
    }

    @Test void underSrunOneLauncherPerNodeTakesSlurmsNodes() {
        Map<String, String> slurm = Map.of("SLURM_JOB_ID", "77", "SLURM_PROCID", "1", "SLURM_NNODES", "2", "SLURM_NTASKS", "2",
                "SLURM_NODEID", "1", "SLURM_JOB_NODELIST", "gpu[07-08]");
        var c = LaunchConfig.parse(new String[] {"--nproc-per-node", "4", "my.Main"}, slurm);
        assertEquals("gpu07", c.masterAddr());
        assertEquals(LaunchConfig.DEFAULT_PORT, c.masterPort().getAsInt());
        assertEquals(new LaunchConfig.Ranks(4, 4, 0, 4, 8), c.ranks());
    }

    @Test void underSrunOneTaskPerRankTakesSlurmsRanks() {
        Map<String, String> slurm = Map.of("SLURM_JOB_ID", "77", "SLURM_PROCID", "5", "SLURM_LOCALID", "1", "SLURM_NNODES", "2",
                "SLURM_NTASKS", "8", "SLURM_NODEID", "1", "SLURM_TASKS_PER_NODE", "4(x2)", "SLURM_STEP_NODELIST", "node12,node13", "MASTER_PORT", "4000");
        var c = LaunchConfig.parse(new String[] {"my.Main"}, slurm);
        assertEquals("node12", c.masterAddr());
        assertEquals(4000, c.masterPort().getAsInt());
        assertEquals(new LaunchConfig.Ranks(5, 1, 1, 4, 8), c.ranks());
    }

    @Test void failureGraceIsParsedAndChecked() {
        assertEquals(LaunchConfig.DEFAULT_FAILURE_GRACE, LaunchConfig.parse(new String[] {"x.Main"}, Map.of()).failureGraceSeconds());
        assertEquals(2.5, LaunchConfig.parse(new String[] {"--failure-grace", "2.5", "x.Main"}, Map.of()).failureGraceSeconds());
        for (String bad : new String[] {"-1", "NaN", "soon", "1e9"})
            assertThrows(IllegalArgumentException.class, () -> LaunchConfig.parse(new String[] {"--failure-grace", bad, "x.Main"}, Map.of()), bad);
        for (String bad : new String[] {"0", "-3", "NaN"})
            assertThrows(IllegalArgumentException.class, () -> LaunchConfig.parse(new String[] {"--timeout", bad, "x.Main"}, Map.of()), bad);
    }

    /** A token made up by one launcher reaches only its own ranks: only a launcher that starts the whole job may make one. */
    @Test void aTokenIsMadeOnlyWhenThisLauncherStartsEveryRank() {
        var single = LaunchConfig.parse(new String[] {"--nproc-per-node", "2", "x.Main"}, Map.of());
        String made = Launcher.token(single, Map.of());
        assertEquals(32, made.length());
        assertNotEquals(made, Launcher.token(single, Map.of()), "random per job");
        assertEquals("given", Launcher.token(single, Map.of("FLUXION_STORE_TOKEN", "given")));

        var node = LaunchConfig.parse(new String[] {"--nproc-per-node", "2", "--nnodes", "2", "--node-rank", "1", "--master-addr", "n0", "x.Main"}, Map.of());
        assertEquals(1, node.nodeOf(3));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Launcher.token(node, Map.of("FLUXION_STORE_TOKEN", ""))).getMessage().contains("openssl rand"));
        assertEquals("shared", Launcher.token(node, Map.of("FLUXION_STORE_TOKEN", "shared")));

        // srun with one task per rank on a single node: every task is a launcher of one rank
        Map<String, String> slurm = Map.of("SLURM_JOB_ID", "77", "SLURM_PROCID", "1", "SLURM_LOCALID", "1", "SLURM_NNODES", "1", "SLURM_NTASKS", "2", "SLURM_NODEID", "0",
                "SLURM_JOB_NODELIST", "n0");
        var task = LaunchConfig.parse(new String[] {"x.Main"}, slurm);
        assertThrows(IllegalArgumentException.class, () -> Launcher.token(task, Map.of()));
        assertEquals(-1, task.nodeOf(0));
    }

    @Test void firstHostOfSlurmNodeLists() {
        assertEquals("n001", LaunchConfig.firstHost("n[001-004]"));
        assertEquals("a3-ib", LaunchConfig.firstHost("a[3,5-6]-ib,b1"));
        assertEquals("solo", LaunchConfig.firstHost("solo"));
    }
}
