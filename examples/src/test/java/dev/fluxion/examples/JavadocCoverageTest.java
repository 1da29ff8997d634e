package dev.fluxion.examples;

import org.junit.jupiter.api.Test;

import javax.tools.DocumentationTool;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every public and protected member of Tensor, Module, the nn layers and the optimizers has Javadoc: javadoc's
 * own check (-Xdoclint:missing) over their sources must report no "no comment". The rest of the API is checked
 * by the build's javadoc run for syntax only (see the root pom).
 */
class JavadocCoverageTest {
    private static final Pattern LAYER_OR_OPTIMIZER = Pattern.compile(
            "public (abstract |final )?class \\w+(<[^>]*>)? extends (Module|Activation|Pool2d|Optimizer<)");

    @Test
    void publicApiOfTensorModuleLayersAndOptimizersIsDocumented() throws IOException {
        Path root = Path.of(System.getProperty("fluxion.root", "..")).toAbsolutePath().normalize();
        List<Path> files = new ArrayList<>(List.of(root.resolve("tensor/src/main/java/dev/fluxion/tensor/Tensor.java")));
        for (String dir : new String[] {"nn/src/main/java/dev/fluxion/nn", "optim/src/main/java/dev/fluxion/optim"}) {
            try (Stream<Path> s = Files.list(root.resolve(dir))) {
                for (Path p : s.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                    String src = Files.readString(p);
                    if (LAYER_OR_OPTIMIZER.matcher(src).find() || p.endsWith("Module.java") || p.endsWith("Optimizer.java")) files.add(p);
                }
            }
        }
        assertTrue(files.size() > 25, "found the layers and optimizers: " + files);
        Path out = Files.createTempDirectory("fluxion-javadoc");
        try {
            DocumentationTool javadoc = ToolProvider.getSystemDocumentationTool();
            StringWriter log = new StringWriter();
            List<String> options = List.of("-Xdoclint:missing", "-Xmaxwarns", "10000", "-quiet", "-d", out.toString(),
                    "-cp", System.getProperty("java.class.path"));
            var fm = javadoc.getStandardFileManager(null, null, null);
            boolean ok = javadoc.getTask(log, fm, null, null, options, fm.getJavaFileObjectsFromPaths(files)).call();
            List<String> missing = log.toString().lines().filter(l -> l.contains("no comment")).toList();
            assertTrue(missing.isEmpty(), missing.size() + " public members have no Javadoc:\n" + String.join("\n", missing));
            assertTrue(ok, "javadoc failed:\n" + log);
        } finally {
            try (Stream<Path> all = Files.walk(out)) {
                for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }
}
