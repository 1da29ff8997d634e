package dev.fluxion.examples;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * README's "Use Fluxion in your project" is true: its pom.xml and Train.java, taken from the README itself, build
 * against Fluxion's artifacts installed into a temporary local repository (never ~/.m2) and run with a plain
 * {@code java -cp}, with and without the Vector API, printing the same falling losses.
 * <p>
 * "Installed" means laid out as {@code mvn install} lays them out (pom and jar under groupId/artifactId/version),
 * copied from this build's {@code target/} folders, which {@code mvn verify} has packaged before this module's
 * tests run. Third-party artifacts come from ~/.m2, read-only, through a settings mirror at its file:// URL, so
 * nothing is downloaded and nothing is written outside the temporary folder.
 */
class UserProjectTest {
    /** What README's project needs (this module depends on them, so they are packaged before this test runs). */
    private static final String[] MODULES = {"tensor", "autodiff", "nn", "optim"};
    /** Installed too when this build packaged them (module order in the reactor does not promise it). */
    private static final String[] OPTIONAL = {"parallel", "native"};
    private final Path root = Path.of(System.getProperty("fluxion.root", "..")).toAbsolutePath().normalize();
    private final String version = System.getProperty("fluxion.version", "0.1.0-SNAPSHOT");
    private Path tmp;

    @AfterEach
    void cleanUp() throws IOException {
        if (tmp == null) return;
        try (Stream<Path> all = Files.walk(tmp)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    @Test
    void readmeProjectBuildsAgainstInstalledArtifactsAndRunsWithPlainJava() throws Exception {
        for (String m : MODULES)
            assumeTrue(Files.exists(jar(m)), "no " + jar(m) + ": run this test through mvn verify, which packages the modules first");
        Path m2 = Path.of(System.getProperty("user.home"), ".m2", "repository");
        assumeTrue(Files.isDirectory(m2), "no ~/.m2/repository to take third-party artifacts from");
        tmp = Files.createTempDirectory("fluxion-user-project");
        Path repo = tmp.resolve("repo"), project = tmp.resolve("my-model");

        install(repo, "fluxion", root.resolve("pom.xml"), null);
        install(repo, "fluxion-bom", root.resolve("bom/pom.xml"), null);
        for (String m : MODULES) install(repo, "fluxion-" + m, root.resolve(m).resolve("pom.xml"), jar(m));
        for (String m : OPTIONAL) if (Files.exists(jar(m))) install(repo, "fluxion-" + m, root.resolve(m).resolve("pom.xml"), jar(m));

        String readme = Files.readString(root.resolve("README.md"));
        String section = readme.substring(readme.indexOf("## Use Fluxion in your project"));
        section = section.substring(0, section.indexOf("\n## ", 5));
        Files.createDirectories(project.resolve("src/main/java"));
        Files.writeString(project.resolve("pom.xml"), block(section, "xml"));
        Files.writeString(project.resolve("src/main/java/Train.java"), block(section, "java"));
        Files.writeString(tmp.resolve("settings.xml"), """
                <settings>
                  <mirrors><mirror><id>read-only-m2</id><mirrorOf>*</mirrorOf><url>%s</url></mirror></mirrors>
                </settings>
                """.formatted(m2.toUri()));

        // README's commands
        run(project, 600, mvn(), "-B", "-q", "-s", tmp.resolve("settings.xml").toString(), "-Dmaven.repo.local=" + repo,
                "package", "dependency:build-classpath", "-Dmdep.outputFile=cp.txt");
        String cp = "target/classes" + File.pathSeparator + Files.readString(project.resolve("cp.txt")).strip();
        assertTrue(cp.contains("fluxion-nn-" + version + ".jar") && cp.contains(repo.toString()),
                "the classpath comes from the temporary repository: " + cp);

        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Result plain = run(project, 300, java, "-cp", cp, "Train");                // the C kernels from the tensor jar (linux-x86_64)
        Result vector = run(project, 300, java, "--add-modules", "jdk.incubator.vector", "-Dfluxion.native=false", "-cp", cp, "Train");
        Result scalar = run(project, 300, java, "-Dfluxion.native=false", "-cp", cp, "Train");
        assertTrue(scalar.err.contains("add --add-modules jdk.incubator.vector"), "one line says how to turn the Vector API on:\n" + scalar.err);
        assertEquals(vector.out, scalar.out, "Vector API and scalar kernels train to the same bits");
        assertEquals(vector.out, plain.out, "the C kernels and the Java kernels train to the same bits");
        List<Float> losses = new ArrayList<>();
        Matcher m = Pattern.compile("loss (\\S+)").matcher(plain.out);
        while (m.find()) losses.add(Float.parseFloat(m.group(1)));
        assertEquals(6, losses.size(), plain.out);
        assertTrue(losses.get(5) < losses.get(0) / 4 && losses.get(5) < 0.05f, "the loss falls: " + losses);
    }

    private Path jar(String module) {
        return root.resolve(module).resolve("target").resolve("fluxion-" + module + "-" + version + ".jar");
    }

    /** What install:install does for a local repository: the pom (and jar) under groupId/artifactId/version. */
    private void install(Path repo, String artifactId, Path pom, Path jar) throws IOException {
        Path dir = repo.resolve("dev/fluxion").resolve(artifactId).resolve(version);
        Files.createDirectories(dir);
        Files.copy(pom, dir.resolve(artifactId + "-" + version + ".pom"));
        if (jar != null) Files.copy(jar, dir.resolve(artifactId + "-" + version + ".jar"));
    }

    /** The first fenced block of the given language in the README section. */
    private static String block(String section, String lang) {
        int start = section.indexOf("```" + lang + "\n");
        assertTrue(start >= 0, "README's section has a ```" + lang + " block");
        start += lang.length() + 4;
        return section.substring(start, section.indexOf("```", start));
    }

    private static String mvn() {
        String home = System.getProperty("maven.home");
        return home != null && Files.exists(Path.of(home, "bin", "mvn")) ? Path.of(home, "bin", "mvn").toString() : "mvn";
    }

    record Result(String out, String err) {}

    private static Result run(Path dir, int seconds, String... cmd) throws IOException, InterruptedException {
        Path out = Files.createTempFile("fluxion-user-out", ".txt"), err = Files.createTempFile("fluxion-user-err", ".txt");
        try {
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", cmd) + " ran past " + seconds + " s");
            }
            Result r = new Result(Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
            assertEquals(0, p.exitValue(), () -> String.join(" ", cmd) + " failed:\n" + r.out + r.err);
            return r;
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
