package dev.fluxion.cuda;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs gpu-tagged JUnit tests without Maven (the GPU bundle's {@code fluxion-gpu test}), on the JUnit Platform
 * launcher API, so the bundle needs no console-launcher jar. Prints one line per test and a summary per class;
 * exits 0 only when at least one test ran and none failed: 1 when a test failed, 3 when every test was skipped
 * or none was found (no GPU means nothing was verified, which must not read as success).
 *
 * <pre>
 * GpuTestMain [--report FILE] [--all-tags] CLASS_OR_PACKAGE...   (default: the package dev.fluxion.cuda)
 * GpuTestMain --list CLASS_OR_PACKAGE...                          the classes that hold gpu tests, one a line
 * </pre>
 * With {@code --report FILE} it appends tab-separated lines: {@code class CLASS passed failed skipped} and
 * {@code failure CLASS.METHOD MESSAGE} (the one-shot GPU script collects them).
 */
public final class GpuTestMain {
    private GpuTestMain() {}

    /** Counts per test class. */
    static final class Counts { int passed, failed, skipped; }

    public static void main(String[] args) throws IOException {
        Path report = null;
        boolean allTags = false, list = false;
        List<String> targets = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--report" -> report = Path.of(args[++i]);
                case "--all-tags" -> allTags = true;
                case "--list" -> list = true;
                default -> targets.add(args[i]);
            }
        }
        if (targets.isEmpty()) targets.add("dev.fluxion.cuda");
        var request = LauncherDiscoveryRequestBuilder.request();
        for (String t : targets) {
            boolean isClass = !t.isEmpty() && Character.isUpperCase(t.charAt(t.lastIndexOf('.') + 1));
            request.selectors(isClass ? DiscoverySelectors.selectClass(t) : DiscoverySelectors.selectPackage(t));
        }
        if (!allTags) request.filters(TagFilter.includeTags("gpu"));
        LauncherDiscoveryRequest built = request.build();
        if (list) {                                   // discovery only: one JVM per class runs them later
            var plan = LauncherFactory.create().discover(built);
            java.util.Set<String> classes = new java.util.TreeSet<>();
            for (var root : plan.getRoots())
                for (var id : plan.getDescendants(root)) if (id.isTest()) classes.add(className(id));
            classes.forEach(System.out::println);
            return;
        }

        Map<String, Counts> byClass = new TreeMap<>();
        List<String> failures = new ArrayList<>();
        TestExecutionListener listener = new TestExecutionListener() {
            @Override public void executionSkipped(TestIdentifier id, String reason) {
                if (!id.isTest()) return;
                counts(id).skipped++;
                System.out.println("SKIP " + name(id) + ": " + reason);
            }

            @Override public void executionFinished(TestIdentifier id, TestExecutionResult r) {
                if (!id.isTest()) return;
                Counts c = counts(id);
                switch (r.getStatus()) {
                    case SUCCESSFUL -> { c.passed++; System.out.println("PASS " + name(id)); }
                    case ABORTED -> {                    // an assumption failed: e.g. no GPU
                        c.skipped++;
                        System.out.println("SKIP " + name(id) + ": " + r.getThrowable().map(Throwable::getMessage).orElse("aborted"));
                    }
                    case FAILED -> {
                        c.failed++;
                        Throwable t = r.getThrowable().orElse(null);
                        String msg = t == null ? "failed" : t.getClass().getSimpleName() + ": " + t.getMessage();
                        failures.add(name(id) + "\t" + msg.replace('\n', ' ').replace('\t', ' '));
                        System.out.println("FAIL " + name(id) + ": " + msg);
                        if (t != null) t.printStackTrace(System.out);
                    }
                }
            }

            private Counts counts(TestIdentifier id) { return byClass.computeIfAbsent(className(id), k -> new Counts()); }
        };
        LauncherFactory.create().execute(built, listener);

        int passed = 0, failed = 0, skipped = 0;
        StringBuilder lines = new StringBuilder();
        for (var e : byClass.entrySet()) {
            Counts c = e.getValue();
            passed += c.passed;
            failed += c.failed;
            skipped += c.skipped;
            System.out.printf("%-50s %3d passed %3d failed %3d skipped%n", e.getKey(), c.passed, c.failed, c.skipped);
            lines.append("class\t").append(e.getKey()).append('\t').append(c.passed).append('\t').append(c.failed).append('\t').append(c.skipped).append('\n');
        }
        for (String f : failures) lines.append("failure\t").append(f).append('\n');
        if (byClass.isEmpty()) lines.append("class\t").append(String.join(",", targets)).append("\t0\t0\t0\n");
        if (report != null)
            Files.writeString(report, lines, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        System.out.println("gpu tests: " + passed + " passed, " + failed + " failed, " + skipped + " skipped");
        if (failed > 0) System.exit(1);
        if (passed == 0) {
            System.out.println("gpu tests: no test ran (every test skipped or none found): nothing was verified");
            System.exit(3);
        }
    }

    private static String className(TestIdentifier id) {
        return id.getSource().filter(MethodSource.class::isInstance).map(s -> ((MethodSource) s).getClassName()).orElse("?");
    }

    private static String name(TestIdentifier id) {
        return id.getSource().filter(MethodSource.class::isInstance)
                .map(s -> ((MethodSource) s).getClassName().replaceFirst(".*\\.", "") + "." + ((MethodSource) s).getMethodName())
                .orElse(id.getDisplayName());
    }
}
