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

    @Test void firstHostOfSlurmNodeLists() {
        assertEquals("n001", LaunchConfig.firstHost("n[001-004]"));
        assertEquals("a3-ib", LaunchConfig.firstHost("a[3,5-6]-ib,b1"));
        assertEquals("solo", LaunchConfig.firstHost("solo"));
    }
}
