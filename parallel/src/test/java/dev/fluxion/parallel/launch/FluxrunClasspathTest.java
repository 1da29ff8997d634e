package dev.fluxion.parallel.launch;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.File;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;

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

    /**
     * Without --classpath, fluxrun runs this repository's build: examples/target/classpath.txt plus the examples
     * jar. A -Prelease build puts -javadoc and -sources jars beside it, which sort first; fluxrun must still pick
     * the classes jar (here the only place the main class is).
     */
    @Test
    void buildTreeModePicksTheClassesJarNotTheJavadocJar() throws Exception {
        Path root = Files.createTempDirectory("fluxrun-tree");
        Path bin = Files.createDirectories(root.resolve("bin")), target = Files.createDirectories(root.resolve("examples/target"));
        Files.copy(Path.of("..", "bin", "fluxrun"), bin.resolve("fluxrun"));
        String classFile = ToyRank.class.getName().replace('.', '/') + ".class";
        try (var in = ToyRank.class.getClassLoader().getResourceAsStream(classFile)) {
            writeJar(target.resolve("fluxion-examples-0.1-SNAPSHOT.jar"), classFile, in.readAllBytes());
        }
        writeJar(target.resolve("fluxion-examples-0.1-SNAPSHOT-javadoc.jar"), "index.html", new byte[0]);
        writeJar(target.resolve("fluxion-examples-0.1-SNAPSHOT-sources.jar"), classFile.replace(".class", ".java"), new byte[0]);
        List<String> rest = new ArrayList<>();   // everything but the test classes, where ToyRank also lives
        for (String e : System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")).split(File.pathSeparator))
            if (!e.endsWith("test-classes")) rest.add(e);
        Files.writeString(target.resolve("classpath.txt"), String.join(File.pathSeparator, rest));
        ProcessBuilder pb = new ProcessBuilder("bash", bin.resolve("fluxrun").toString(), "--nproc-per-node", "2", "--timeout", "60",
                ToyRank.class.getName(), "env").directory(root.toFile()).redirectErrorStream(true);
        pb.environment().remove("FLUXRUN_CLASSPATH");
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "fluxrun timed out:\n" + out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("[rank 0] RANK=0") && out.contains("[rank 1] RANK=1"), out);
    }

    private static void writeJar(Path jar, String entry, byte[] bytes) throws Exception {
        try (OutputStream os = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(os)) {
            j.putNextEntry(new JarEntry(entry));
            j.write(bytes);
            j.closeEntry();
        }
    }
}
