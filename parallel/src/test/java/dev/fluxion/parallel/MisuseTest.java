package dev.fluxion.parallel;

import dev.fluxion.parallel.fsdp.FsdpConfig;
import dev.fluxion.parallel.fsdp.MixedPrecision;
import dev.fluxion.parallel.launch.LaunchConfig;
import dev.fluxion.parallel.localsgd.DiLoCo;
import dev.fluxion.parallel.pipeline.Schedules;
import dev.fluxion.parallel.pipeline.Simulator;
import dev.fluxion.parallel.ps.Consistency;
import dev.fluxion.parallel.ps.ParameterServer;
import dev.fluxion.parallel.tcp.TcpProcessGroup;
import dev.fluxion.parallel.tensor.ShardedDropout;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Launcher, environment, parallelism and pipeline settings refuse NaN, negative and overflowing numbers, naming the setting. */
class MisuseTest {
    private static final double NAN = Double.NaN, INF = Double.POSITIVE_INFINITY;

    private static Arguments row(String call, Executable action, String... words) {
        return Arguments.of(call, action, words);
    }

    private static LaunchConfig launch(String... args) {
        return LaunchConfig.parse(args, Map.of());
    }

    private static Distributed.Env env(String... kv) {
        Map<String, String> m = new java.util.HashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return Distributed.Env.from(m);
    }

    static Stream<Arguments> rows() {
        return Stream.of(
                row("fluxrun --nproc-per-node 0", () -> launch("--nproc-per-node", "0", "Main"), "--nproc-per-node", "0"),
                row("fluxrun --nproc-per-node x", () -> launch("--nproc-per-node", "x", "Main"), "--nproc-per-node", "integer"),
                row("fluxrun --nnodes 0", () -> launch("--nnodes", "0", "Main"), "--nnodes", "0"),
                row("fluxrun --node-rank 2 of 2", () -> launch("--nnodes", "2", "--node-rank", "2", "--master-addr", "h", "Main"), "--node-rank", "2"),
                row("fluxrun --max-restarts -1", () -> launch("--max-restarts", "-1", "Main"), "--max-restarts", "-1"),
                row("fluxrun --master-port 70000", () -> launch("--master-port", "70000", "Main"), "--master-port", "70000"),
                row("fluxrun --master-port -1", () -> launch("--master-port", "-1", "Main"), "--master-port", "-1"),
                row("fluxrun --timeout NaN", () -> launch("--timeout", "NaN", "Main"), "--timeout", "NaN"),
                row("fluxrun --timeout -5", () -> launch("--timeout", "-5", "Main"), "--timeout", "-5"),
                row("fluxrun --timeout 0", () -> launch("--timeout", "0", "Main"), "--timeout"),
                row("fluxrun --timeout Infinity", () -> launch("--timeout", "Infinity", "Main"), "--timeout", "Infinity"),
                row("fluxrun --timeout abc", () -> launch("--timeout", "abc", "Main"), "--timeout", "abc"),
                row("fluxrun 65536 x 65536 ranks", () -> launch("--nproc-per-node", "65536", "--nnodes", "65536", "--node-rank", "0", "--master-addr", "h", "Main"),
                        "65536", "2^31-1"),
                row("fluxrun without a main class", () -> launch("--nproc-per-node", "2"), "MAIN_CLASS_OR_JAR"),
                row("FLUXION_TIMEOUT=NaN", () -> env("FLUXION_TIMEOUT", "NaN"), "FLUXION_TIMEOUT", "NaN"),
                row("FLUXION_TIMEOUT=-1", () -> env("FLUXION_TIMEOUT", "-1"), "FLUXION_TIMEOUT", "-1"),
                row("FLUXION_TIMEOUT=0", () -> env("FLUXION_TIMEOUT", "0"), "FLUXION_TIMEOUT"),
                row("WORLD_SIZE=0", () -> env("WORLD_SIZE", "0"), "WORLD_SIZE", "0"),
                row("RANK=2 of 2", () -> env("WORLD_SIZE", "2", "RANK", "2"), "RANK", "2"),
                row("MASTER_PORT=70000", () -> env("MASTER_PORT", "70000"), "MASTER_PORT", "70000"),
                row("LOCAL_RANK=-1", () -> env("LOCAL_RANK", "-1"), "LOCAL_RANK", "-1"),
                row("FLUXION_RESTART_COUNT=-1", () -> env("FLUXION_RESTART_COUNT", "-1"), "FLUXION_RESTART_COUNT", "-1"),
                row("FLUXION_SOCKET_BUFFER=-1", () -> env("FLUXION_SOCKET_BUFFER", "-1"), "FLUXION_SOCKET_BUFFER", "-1"),
                row("TcpProcessGroup.Options timeout 0", () -> TcpProcessGroup.Options.DEFAULT.withTimeout(Duration.ZERO), "timeout"),
                row("TcpProcessGroup.Options socketBuffer -1", () -> TcpProcessGroup.Options.DEFAULT.withSocketBuffer(-1), "socketBuffer", "-1"),
                row("DistributedDataParallel.Config bucket 0", () -> DistributedDataParallel.Config.DEFAULT.withBucketCapBytes(0), "bucket", "0"),
                row("DistributedDataParallel.Config first bucket -1", () -> DistributedDataParallel.Config.DEFAULT.withFirstBucketBytes(-1), "bucket", "-1"),
                row("FsdpConfig strategy null", () -> FsdpConfig.DEFAULT.withStrategy(null), "FsdpConfig", "strategy"),
                row("MixedPrecision int8 params", () -> new MixedPrecision(DType.INT8, DType.FLOAT32), "MixedPrecision", "int8"),
                row("DiLoCo.Config localSteps 0", () -> new DiLoCo.Config(0, 0.7, 0.9, true), "localSteps", "0"),
                row("DiLoCo.Config outerLr NaN", () -> new DiLoCo.Config(10, NAN, 0.9, true), "outerLr", "NaN"),
                row("DiLoCo.Config outerLr inf", () -> new DiLoCo.Config(10, INF, 0.9, true), "outerLr", "Infinity"),
                row("DiLoCo.Config outerMomentum NaN", () -> new DiLoCo.Config(10, 0.7, NAN, true), "outerMomentum", "NaN"),
                row("DiLoCo.Config outerMomentum 1", () -> new DiLoCo.Config(10, 0.7, 1, true), "outerMomentum", "1.0"),
                row("ShardedDropout p NaN", () -> new ShardedDropout(NAN, new Generator(1), 0, null), "ShardedDropout", "NaN"),
                row("Simulator.Costs forward NaN", () -> new Simulator.Costs(NAN, 1, 1, 0, 0), "Simulator.Costs", "NaN"),
                row("Simulator.Costs latency inf", () -> new Simulator.Costs(1, 1, 1, INF, 0), "Simulator.Costs", "Infinity"),
                row("Simulator.Costs forward -1", () -> new Simulator.Costs(-1, 1, 1, 0, 0), "Simulator.Costs", "-1"),
                row("Simulator.Costs bytes -1", () -> new Simulator.Costs(1, 1, 1, 0, -1), "Simulator.Costs", "-1"),
                row("Schedules.gpipe(0 ranks)", () -> Schedules.gpipe(0, 4), "0 ranks"),
                row("Schedules.oneForwardOneBackward(0 microbatches)", () -> Schedules.oneForwardOneBackward(2, 0), "0 micro-batches"),
                row("Consistency.ssp(-1)", () -> Consistency.ssp(-1), "-1"),
                row("ParameterServer.Config workers 0", () -> ParameterServer.Config.of(Consistency.bsp(), 0), "workers", "0"),
                row("ParameterServer.Config timeout 0", () -> ParameterServer.Config.of(Consistency.bsp(), 2).withTimeouts(Duration.ZERO, Duration.ofSeconds(1)), "timeouts")
        );
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void misuseFailsClearly(String call, Executable action, String[] words) {
        Throwable e = assertThrows(IllegalArgumentException.class, action, call);
        String m = String.valueOf(e.getMessage());
        for (String w : words) assertTrue(m.contains(w), call + ": expected '" + w + "' in: " + m);
    }
}
