package dev.fluxion.parallel.launch;

import dev.fluxion.parallel.Distributed;
import dev.fluxion.parallel.DistributedException;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

/** A program the launcher and process tests start as ranks; its first argument picks what it does. */
public final class ToyRank {
    public static void main(String[] args) throws Exception {
        int rank = Integer.parseInt(System.getenv().getOrDefault("RANK", "0"));
        int restart = Integer.parseInt(System.getenv().getOrDefault("FLUXION_RESTART_COUNT", "0"));
        switch (args[0]) {
            case "env" -> {
                for (String k : new String[] {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "FLUXION_DEVICE",
                        "FLUXION_RESTART_COUNT", "FLUXION_TIMEOUT"})
                    System.out.println(k + "=" + System.getenv(k));
                System.err.println("token set: " + !System.getenv().getOrDefault("FLUXION_STORE_TOKEN", "").isEmpty());
                System.out.print("no newline at the end");
            }
            case "fail" -> {   // fail RANK CODE: that rank exits with CODE, the others wait to be stopped
                if (rank == Integer.parseInt(args[1])) { System.out.println("failing on purpose"); System.exit(Integer.parseInt(args[2])); }
                Thread.sleep(60_000);
            }
            case "fail-until-restart" -> {   // rank 0 fails until the launcher has restarted the job K times
                System.out.println("attempt with restart count " + restart);
                if (rank == 0 && restart < Integer.parseInt(args[1])) System.exit(3);
                if (rank != 0 && restart < Integer.parseInt(args[1])) Thread.sleep(60_000);
            }
            case "allreduce" -> {   // allreduce [VICTIM [halt|stop|none]]: all-reduce in a loop; VICTIM halts (or SIGSTOPs itself) while it runs
                int die = args.length > 1 ? Integer.parseInt(args[1]) : -1;
                String how = args.length > 2 ? args[2] : "halt";
                ProcessGroup pg = Distributed.initFromEnv();
                Tensor t = Tensor.ones(DType.FLOAT32, 2_000_000);
                if (rank == die && !how.equals("none")) {
                    Thread killer = new Thread(() -> {
                        sleep(300);
                        if (how.equals("stop")) {
                            try { new ProcessBuilder("kill", "-STOP", String.valueOf(ProcessHandle.current().pid())).start().waitFor(); }
                            catch (Exception e) { throw new IllegalStateException(e); }
                        } else Runtime.getRuntime().halt(137);
                    });
                    killer.setDaemon(true);
                    killer.start();
                }
                try {
                    for (int i = 0; i < (die >= 0 ? 100_000 : 3); i++) {
                        pg.allReduce(t, ReduceOp.SUM).waitFor();
                        if (i == 0) { System.out.println("looping"); System.out.flush(); }
                    }
                    pg.barrier().waitFor();
                    System.out.println("sum " + (long) t.get(0));
                    pg.close();
                } catch (DistributedException e) {
                    System.err.println("FAILED: " + e.getMessage());
                    System.exit(3);
                }
            }
            case "train" -> {   // train DIR STEPS: a step = an all-reduce and 100 ms; rank 0 checkpoints every 5 steps into DIR; resumes from it
                java.nio.file.Path dir = java.nio.file.Path.of(args[1]);
                int steps = Integer.parseInt(args[2]);
                ProcessGroup pg = Distributed.initFromEnv();
                long saved = rank == 0 ? dev.fluxion.nn.io.CheckpointDir.loadLatest(dir).map(dev.fluxion.nn.io.TrainingCheckpoint::step).orElse(0L) : 0;
                Tensor start = Tensor.of(new float[] {saved}, 1);
                pg.broadcast(start, 0).waitFor();
                int first = (int) start.get(0);
                System.out.println("resumed at step " + first + " (restart " + restart + ")");
                Tensor t = Tensor.ones(DType.FLOAT32, 1000);
                try {
                    for (int step = first; step < steps; step++) {
                        pg.allReduce(t, ReduceOp.AVG).waitFor();
                        Thread.sleep(100);
                        if (rank == 0 && (step + 1) % 5 == 0)
                            dev.fluxion.nn.io.CheckpointDir.save(dir, new dev.fluxion.nn.io.TrainingCheckpoint(step + 1, java.util.Map.of("w", java.util.Map.of("w", t)), java.util.Map.of()));
                        System.out.println("step " + (step + 1));
                    }
                    pg.barrier().waitFor();
                    System.out.println("trained " + steps + " steps");
                    pg.close();
                } catch (DistributedException e) {
                    System.err.println("FAILED: " + e.getMessage());
                    System.exit(3);
                }
            }
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    private static void sleep(long ms) {
        try { Thread.sleep(ms); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
    }
}
