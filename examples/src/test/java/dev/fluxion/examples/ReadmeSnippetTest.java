package dev.fluxion.examples;

import org.junit.jupiter.api.Test;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * README's first code snippet compiles as shown, with the imports a user would write (no class of this module
 * needed), and README's note on {@code import dev.fluxion.nn.*;} is true.
 */
class ReadmeSnippetTest {
    private static final String IMPORTS = """
            import dev.fluxion.nn.Gpt;
            import dev.fluxion.nn.Init;
            import dev.fluxion.nn.Losses;
            import dev.fluxion.optim.AdamW;
            import dev.fluxion.tensor.Generator;
            import dev.fluxion.tensor.Scope;
            import dev.fluxion.tensor.Tensor;
            import java.nio.file.Files;
            import java.nio.file.Path;
            """;

    @Test
    void firstSnippetCompiles() throws Exception {
        Path root = Path.of(System.getProperty("fluxion.root", "..")).toAbsolutePath().normalize();
        String readme = Files.readString(root.resolve("README.md"));
        int start = readme.indexOf("```java\n") + 8;
        String snippet = readme.substring(start, readme.indexOf("```", start));
        String log = compile("Snippet", IMPORTS + "class Snippet {\n    static void run() throws Exception {\n" + snippet + "    }\n}\n");
        assertTrue(log == null, "README's first snippet does not compile:\n" + log + "\n" + snippet);
    }

    @Test
    void wildcardImportOfNnNeedsAnExplicitModuleImport() throws Exception {
        String body = "class Wild { Module m = new Sequential(new Linear(1, 1, true, Init.seed(0))); }\n";
        String log = compile("Wild", "import dev.fluxion.nn.*;\n" + body);
        assertTrue(log != null && log.contains("reference to Module is ambiguous"), "the wildcard alone clashes with java.lang.Module: " + log);
        log = compile("Wild", "import dev.fluxion.nn.*;\nimport dev.fluxion.nn.Module;\n" + body);
        assertTrue(log == null, "with import dev.fluxion.nn.Module it compiles: " + log);
    }

    /** Compiles one source file against this test's class path: null when it compiles, else javac's messages. */
    private static String compile(String className, String source) throws Exception {
        Path dir = Files.createTempDirectory("fluxion-readme");
        Path src = dir.resolve(className + ".java");
        Files.writeString(src, source);
        try {
            JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
            StringWriter log = new StringWriter();
            var fm = javac.getStandardFileManager(null, null, null);
            boolean ok = javac.getTask(log, fm, null, List.of("-d", dir.toString(), "-cp", System.getProperty("java.class.path")), null,
                    fm.getJavaFileObjects(src)).call();
            return ok ? null : log.toString();
        } finally {
            try (var all = Files.walk(dir)) {
                for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }
}
