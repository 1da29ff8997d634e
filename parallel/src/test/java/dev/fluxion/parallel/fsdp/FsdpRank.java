package dev.fluxion.parallel.fsdp;

import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.Distributed;
import dev.fluxion.parallel.ProcessGroup;

import java.nio.file.Path;

/**
 * A rank of {@link FsdpLaunchTest}, started by the launcher: {@code FROM TO DIR [export]} resumes from DIR's
 * latest checkpoint (when FROM > 0), trains steps [FROM, TO) as {@link FsdpCheckpointTest#train}, saves, and
 * with "export" writes DIR/full.safetensors.
 */
public final class FsdpRank {
    public static void main(String[] args) throws Exception {
        int from = Integer.parseInt(args[0]), to = Integer.parseInt(args[1]);
        Path dir = Path.of(args[2]);
        ProcessGroup pg = Distributed.initFromEnv();
        var fsdp = FullyShardedDataParallel.fullyShard(FsdpHarness.model(), pg, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT);
        var opt = new AdamW(fsdp.parameters(), FsdpHarness.ADAMW);
        if (from > 0) {
            long step = FsdpCheckpoint.loadLatest(dir, fsdp, opt).orElseThrow();
            if (step != from) throw new IllegalStateException("resumed at step " + step + ", expected " + from);
        }
        FsdpCheckpointTest.train(fsdp, opt, pg.rank(), pg.size(), from, to);
        FsdpCheckpoint.save(dir, to, fsdp, opt);
        if (args.length > 3) FsdpCheckpoint.exportFull(dir.resolve("full.safetensors"), fsdp);
        System.out.println("done " + from + ".." + to + " on " + pg.size() + " ranks");
        pg.close();
    }
}
