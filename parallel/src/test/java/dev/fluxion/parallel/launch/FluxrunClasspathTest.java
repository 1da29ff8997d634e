package dev.fluxion.parallel.launch;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** bin/fluxrun --classpath CP runs a user's program from any folder, without this repository's build tree. */
class FluxrunClasspathTest {
    @Test
    void classpathFlagStartsRanksOnTheGivenClassPath() throws Exception {
        Path fluxrun = Path.of("..", "bin", "fluxrun").toAbsolutePath().normalize();
        Path elsewhere = Files.createTempDirectory("fluxrun-user");
        try {
            String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
            ProcessBuilder pb = new ProcessBuilder("bash", fluxrun.toString(), "--classpath", cp, "--nproc-per-node", "2",
                    "--timeout", "60", ToyRank.class.getName(), "env").directory(elsewhere.toFile()).redirectErrorStream(true);
            pb.environment().remove("FLUXRUN_CLASSPATH");
            pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "fluxrun timed out:\n" + out);
            assertEquals(0, p.exitValue(), out);
            assertTrue(out.contains("[rank 0] RANK=0") && out.contains("[rank 1] RANK=1") && out.contains("WORLD_SIZE=2"), out);
        } finally {
            Files.deleteIfExists(elsewhere);
        }
    }
}
