package dev.fluxion.parallel.ps;

import dev.fluxion.nn.Module;
import dev.fluxion.parallel.LocalCluster;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.fluxion.parallel.ps.ParameterServerTest.*;

/** Every rank of a process group hosts a shard and trains as a worker: BSP still equals single-process training. */
class ParameterServersTest {
    @Test void everyRankAServerAndAWorker() throws Exception {
        int n = 3;
        List<float[]> want = singleProcess(n, "sgd", STEPS);
        List<List<float[]>> got = LocalCluster.run(n, TIMEOUT, pg -> {
            Module m = model(1);
            var config = ParameterServer.Config.of(Consistency.bsp(), n).withTimeouts(TIMEOUT, TIMEOUT);
            try (var job = ParameterServers.launch(pg, "127.0.0.1", m.parameters(), optimizer("sgd"), config)) {
                List<float[]> v;
                try (var ps = job.connect(pg.rank(), m.parameters(), TIMEOUT)) {
                    v = train(ps, m, pg.rank(), n, STEPS);
                }
                pg.barrier().waitFor();   // keep this rank's shard up until every worker is done
                return v;
            }
        });
        for (int w = 0; w < n; w++) assertClose(want, got.get(w), "rank " + w);
    }
}
