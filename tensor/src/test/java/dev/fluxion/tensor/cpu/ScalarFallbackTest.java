package dev.fluxion.tensor.cpu;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A program that depends on Fluxion runs with a plain {@code java -cp} (no --add-modules): the C kernels run where
 * they load; without them the Java kernels fall back to scalar loops, say so in one line on stderr, and give the
 * same bits as the Vector API path and the C kernels.
 */
class ScalarFallbackTest {
    record Run(String out, String err) {}

    static Run java(List<String> flags, String mainClass) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(System.getProperty("java.home") + "/bin/java", "-Xmx512m"));
        cmd.addAll(flags);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        Process p = new ProcessBuilder(cmd).start();
        byte[] err = p.getErrorStream().readAllBytes();    // small; read before stdout would not deadlock here
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probe timed out");
        Run r = new Run(new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
        assertEquals(0, p.exitValue(), () -> String.join(" ", cmd) + " failed:\n" + r.err);
        return r;
    }

    @Test
    void plainJavaRunsScalarKernelsWithTheSameBits() throws Exception {
        Run vector = java(List.of("--add-modules", "jdk.incubator.vector", "-Dfluxion.native=false"), KernelBitsProbe.class.getName());
        Run plain = java(List.of("-Dfluxion.native=false"), KernelBitsProbe.class.getName());
        assertTrue(vector.out.startsWith("vector=true"), vector.out);
        assertTrue(plain.out.startsWith("vector=false"), plain.out);
        assertTrue(plain.err.contains(Simd.HINT), "the scalar run says how to turn the Vector API on: " + plain.err);
        assertEquals(1, plain.err.lines().filter(l -> l.startsWith("Fluxion:")).count(), plain.err);
        String[] v = vector.out.lines().toArray(String[]::new), s = plain.out.lines().toArray(String[]::new);
        assertEquals(v.length, s.length);
        assertTrue(v.length > 60, "the probe printed " + v.length + " lines");
        for (int i = 1; i < v.length; i++) assertEquals(v[i], s[i], "Vector API vs scalar loops");
    }

    /** Where the C kernels load (linux-x86_64), a plain java -cp uses them, prints nothing, and gives the Java kernels' bits. */
    @Test
    void nativeKernelsNeedNoFlagAndGiveTheSameBits() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(NativeKernels.ENABLED, "no native CPU kernels on this platform");
        Run plain = java(List.of(), KernelBitsProbe.class.getName());
        Run java = java(List.of("--add-modules", "jdk.incubator.vector", "-Dfluxion.native=false"), KernelBitsProbe.class.getName());
        assertEquals(0, plain.err.lines().filter(l -> l.startsWith("Fluxion:")).count(), plain.err);
        String[] n = plain.out.lines().toArray(String[]::new), v = java.out.lines().toArray(String[]::new);
        assertEquals(v.length, n.length);
        for (int i = 1; i < v.length; i++) assertEquals(v[i], n[i], "C kernels vs Java kernels");
    }
}
