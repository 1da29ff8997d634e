package dev.fluxion.bench;

import dev.fluxion.tensor.cpu.CpuMemory;

import java.lang.management.ManagementFactory;

/**
 * Heap bytes and tensor buffers allocated per training step, and the time per step, for TrainStepBench's
 * models (the same step, the same inputs). Heap bytes are summed over all threads (the caller and the
 * pool's workers), so Vector API code that fell off the fast path and boxes its vectors shows up here as
 * hundreds of megabytes per step; buffers are the tensor memory the steps took from {@link CpuMemory}
 * (one per tensor that got its own data, views excluded); cpu ms is the process's CPU time per step.
 *
 * <pre>
 * mvn -B -o -q -pl bench -am package -DskipTests
 * java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.fluxion.bench.StepAllocationHarness [warmup] [steps] [models]
 * </pre>
 */
public final class StepAllocationHarness {
    private StepAllocationHarness() {}

    private static final com.sun.management.ThreadMXBean THREADS = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** Bytes allocated so far by all live threads. */
    private static long heapAllocated() {
        long sum = 0;
        for (long b : THREADS.getThreadAllocatedBytes(THREADS.getAllThreadIds())) if (b > 0) sum += b;
        return sum;
    }

    public static void main(String[] args) throws Exception {
        int warmup = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        String[] models = (args.length > 2 ? args[2] : "mlp,gpt").split(",");
        System.out.printf("load average: %s%n", loadAverage());
        System.out.printf("%-6s %14s %16s %12s %16s%n", "model", "heap MB/step", "buffers/step", "ms/step", "cpu ms/step");
        for (String model : models) {
            TrainStepBench.Setup_ s = new TrainStepBench.Setup_();
            s.model = model;
            s.setup();
            TrainStepBench bench = new TrainStepBench();
            for (int i = 0; i < warmup; i++) bench.step(s);
            jdk.jfr.Recording rec = null;
            String jfr = System.getProperty("harness.jfr");                 // allocation samples of the measured steps only
            if (jfr != null) {
                rec = new jdk.jfr.Recording(jdk.jfr.Configuration.getConfiguration("profile"));
                rec.start();
            }
            long heap0 = heapAllocated(), buf0 = CpuMemory.acquired(), cpu0 = processCpuNanos(), t0 = System.nanoTime();
            for (int i = 0; i < steps; i++) bench.step(s);
            long t1 = System.nanoTime(), cpu1 = processCpuNanos(), heap1 = heapAllocated(), buf1 = CpuMemory.acquired();
            if (rec != null) {
                rec.stop();
                try { rec.dump(java.nio.file.Path.of(jfr + "-" + model + ".jfr")); } catch (java.io.IOException e) { throw new java.io.UncheckedIOException(e); }
                rec.close();
            }
            System.out.printf("%-6s %14.2f %16.1f %12.1f %16.1f%n", model, (heap1 - heap0) / 1e6 / steps, (buf1 - buf0) / (double) steps,
                    (t1 - t0) / 1e6 / steps, (cpu1 - cpu0) / 1e6 / steps);
        }
        System.out.printf("load average: %s%n", loadAverage());
    }

    /**
     * CPU time of the whole process (every thread, OpenBLAS's own included): above cores x wall time means threads
     * competing, and cpu ms well above the work's share shows threads spinning while they wait.
     */
    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static String loadAverage() {
        try { return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim(); }
        catch (java.io.IOException e) { return "n/a"; }
    }
}
