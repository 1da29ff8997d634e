package dev.fluxion.parallel.fsdp;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.io.Safetensors;
import dev.fluxion.parallel.launch.Launcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static dev.fluxion.parallel.fsdp.FsdpHarness.*;
import static org.junit.jupiter.api.Assertions.*;

/** FSDP in real processes started by the launcher behind bin/fluxrun: 4 ranks train and checkpoint, 2 ranks resume. */
class FsdpLaunchTest {
    static int launch(int ranks, String... args) {
        Map<String, String> env = new HashMap<>();
        env.put("FLUXRUN_CLASSPATH", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        env.put("FLUXRUN_JAVA_OPTS", "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto");
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("--nproc-per-node", Integer.toString(ranks), "--timeout", "60",
                FsdpRank.class.getName()));
        cmd.addAll(java.util.List.of(args));
        String[] withMain = cmd.toArray(String[]::new);
        var out = new ByteArrayOutputStream();
        int code = Launcher.run(withMain, env, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(out, true, StandardCharsets.UTF_8));
        assertEquals(0, code, out.toString(StandardCharsets.UTF_8));
        return code;
    }

    @Test void fourProcessesTrainAndCheckpointTwoResumeAndTheResultEqualsOneProcess(@TempDir Path dir) throws Exception {
        launch(4, "0", "2", dir.toString());
        launch(2, "2", "4", dir.toString(), "export");
        Gpt single = model();
        single.loadStateDict(Safetensors.load(dir.resolve("full.safetensors")));
        assertClose(singleProcess(FsdpCheckpointTest.GLOBAL, 4), values(single.stateDict()), 1e-5, "4 steps on 4 then 2 processes");
    }
}
