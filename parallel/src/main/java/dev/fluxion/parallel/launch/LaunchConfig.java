package dev.fluxion.parallel.launch;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * What {@code bin/fluxrun} was asked to start, from its arguments and, under Slurm's {@code srun}, from
 * Slurm's variables (an option on the command line always wins).
 *
 * <pre>
 * fluxrun --nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P] [--max-restarts K]
 *         [--timeout SECONDS] [--failure-grace SECONDS] [--jvm-arg ARG]... MAIN_CLASS_OR_JAR [ARGS]
 * </pre>
 *
 * Under srun with one task per node, each task is a launcher for its node (nnodes = SLURM_NNODES, node rank =
 * SLURM_NODEID, master = the first host of the step's node list). With several tasks per node and no
 * --nproc-per-node, each task is one rank: RANK = SLURM_PROCID, LOCAL_RANK = SLURM_LOCALID, WORLD_SIZE =
 * SLURM_NTASKS.
 */
public record LaunchConfig(int nprocPerNode, int nnodes, int nodeRank, String masterAddr, OptionalInt masterPort, int maxRestarts,
                           String timeoutSeconds, double failureGraceSeconds, List<String> jvmArgs, String target, List<String> targetArgs, Ranks ranks) {
    public static final int DEFAULT_PORT = 29500;
    /** Seconds the other ranks get, after the first failure, to report whom they blame and exit on their own. */
    public static final double DEFAULT_FAILURE_GRACE = 5;

    /** The ranks this launcher starts: global ranks base..base+count-1, local ranks localBase.., of world and localWorld. */
    public record Ranks(int base, int count, int localBase, int localWorld, int world) {}

    public static final String USAGE = """
            usage: fluxrun --nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P]
                           [--max-restarts K] [--timeout SECONDS] [--failure-grace SECONDS] [--jvm-arg ARG]...
                           MAIN_CLASS_OR_JAR [ARGS]
              Starts N ranks of MAIN_CLASS (or the Main-Class of a jar) on this node, each in its own JVM, with
              RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set; prefixes their
              output with their rank. When a rank fails, the others get --failure-grace seconds (default 5) to
              report and exit, then are stopped; fluxrun names the rank that the others blame (or that died)
              and exits non-zero, or restarts them all up to K times (FLUXION_RESTART_COUNT tells the program;
              resume from your last checkpoint). --timeout bounds every wait of the ranks (FLUXION_TIMEOUT).
              Store token: the store on rank 0 admits only clients with FLUXION_STORE_TOKEN. On one node
              fluxrun makes a random one. With --nnodes > 1 (or one rank per Slurm task) set the same secret
              on every node first, e.g.  export FLUXION_STORE_TOKEN=$(openssl rand -hex 16)  and pass it to
              the other nodes (srun passes the environment on); fluxrun refuses to start without it.
              Under srun, values not given here come from Slurm. JVM options: --jvm-arg or FLUXRUN_JAVA_OPTS.""";

    public LaunchConfig {
        if (nprocPerNode < 1) throw new IllegalArgumentException("--nproc-per-node must be >= 1, got " + nprocPerNode);
        if (nnodes < 1) throw new IllegalArgumentException("--nnodes must be >= 1, got " + nnodes);
        if (nodeRank < 0 || nodeRank >= nnodes) throw new IllegalArgumentException("--node-rank " + nodeRank + " is not in [0, nnodes=" + nnodes + ")");
        if (maxRestarts < 0) throw new IllegalArgumentException("--max-restarts must be >= 0, got " + maxRestarts);
        if (target == null || target.isBlank()) throw new IllegalArgumentException("no MAIN_CLASS_OR_JAR given");
        if (!(failureGraceSeconds >= 0 && failureGraceSeconds <= 3600))
            throw new IllegalArgumentException("--failure-grace must be a number of seconds in [0, 3600], got " + failureGraceSeconds);
        jvmArgs = List.copyOf(jvmArgs);
        targetArgs = List.copyOf(targetArgs);
    }

    /** Parses args, falling back on Slurm's variables in env when running under srun. */
    public static LaunchConfig parse(String[] args, Map<String, String> env) {
        Integer nproc = null, nnodes = null, nodeRank = null, port = null, restarts = null;
        String addr = null, timeout = null, target = null;
        double grace = DEFAULT_FAILURE_GRACE;
        List<String> jvm = new ArrayList<>(), rest = new ArrayList<>();
        int i = 0;
        for (; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--")) { i++; break; }
            if (!a.startsWith("--")) break;
            String name = a, value = null;
            int eq = a.indexOf('=');
            if (eq > 0) { name = a.substring(0, eq); value = a.substring(eq + 1); }
            if (value == null) {
                if (i + 1 >= args.length) throw new IllegalArgumentException("option " + a + " needs a value");
                value = args[++i];
            }
            switch (name) {
                case "--nproc-per-node", "--nproc_per_node" -> nproc = integer(name, value);
                case "--nnodes" -> nnodes = integer(name, value);
                case "--node-rank", "--node_rank" -> nodeRank = integer(name, value);
                case "--master-addr", "--master_addr" -> addr = value;
                case "--master-port", "--master_port" -> port = integer(name, value);
                case "--max-restarts", "--max_restarts" -> restarts = integer(name, value);
                case "--timeout" -> { double t = number(name, value); if (!(t > 0)) throw new IllegalArgumentException("--timeout must be a positive number of seconds, got " + value); timeout = value; }
                case "--failure-grace", "--failure_grace" -> grace = number(name, value);
                case "--jvm-arg" -> jvm.add(value);
                default -> throw new IllegalArgumentException("unknown option " + name);
            }
        }
        if (i >= args.length) throw new IllegalArgumentException("no MAIN_CLASS_OR_JAR given");
        target = args[i];
        for (i++; i < args.length; i++) rest.add(args[i]);

        Ranks ranks = null;
        if (env.containsKey("SLURM_PROCID") && env.containsKey("SLURM_JOB_ID")) {
            int slurmNodes = integer("SLURM_NNODES", env.getOrDefault("SLURM_NNODES", env.getOrDefault("SLURM_JOB_NUM_NODES", "1")));
            int tasks = integer("SLURM_NTASKS", env.getOrDefault("SLURM_NTASKS", String.valueOf(slurmNodes)));
            if (nnodes == null) nnodes = slurmNodes;
            if (nodeRank == null) nodeRank = integer("SLURM_NODEID", env.getOrDefault("SLURM_NODEID", "0"));
            if (addr == null) {
                String list = env.getOrDefault("SLURM_STEP_NODELIST", env.get("SLURM_JOB_NODELIST"));
                if (list != null) addr = firstHost(list);
            }
            if (port == null && env.containsKey("MASTER_PORT")) port = integer("MASTER_PORT", env.get("MASTER_PORT"));
            if (port == null) port = DEFAULT_PORT;
            if (nproc == null && tasks > slurmNodes) {   // one rank per Slurm task
                int local = integer("SLURM_LOCALID", env.getOrDefault("SLURM_LOCALID", "0"));
                int perNode = tasksOnThisNode(env, tasks, slurmNodes);
                nproc = 1;
                ranks = new Ranks(integer("SLURM_PROCID", env.get("SLURM_PROCID")), 1, local, perNode, tasks);
            }
            if (nproc == null && env.containsKey("SLURM_GPUS_ON_NODE")) nproc = integer("SLURM_GPUS_ON_NODE", env.get("SLURM_GPUS_ON_NODE"));
        }
        if (nproc == null) nproc = 1;
        if (nnodes == null) nnodes = 1;
        if (nodeRank == null) nodeRank = 0;
        if (addr == null) {
            if (nnodes > 1) throw new IllegalArgumentException("--master-addr is required with --nnodes " + nnodes + " (the address of node 0)");
            addr = "127.0.0.1";
        }
        if (port == null && nnodes > 1) port = DEFAULT_PORT;
        if (ranks == null) ranks = new Ranks(nodeRank * nproc, nproc, 0, nproc, nnodes * nproc);
        return new LaunchConfig(nproc, nnodes, nodeRank, addr, port == null ? OptionalInt.empty() : OptionalInt.of(port),
                restarts == null ? 0 : restarts, timeout, grace, jvm, target, rest, ranks);
    }

    private static int tasksOnThisNode(Map<String, String> env, int tasks, int nodes) {
        String per = env.get("SLURM_NTASKS_PER_NODE");
        if (per != null && !per.isBlank()) return integer("SLURM_NTASKS_PER_NODE", per.split("[(,]")[0]);
        String tpn = env.get("SLURM_TASKS_PER_NODE");   // e.g. "4(x2)" or "3,2"
        if (tpn != null && !tpn.isBlank()) return integer("SLURM_TASKS_PER_NODE", tpn.split("[(,]")[0]);
        return tasks / nodes;
    }

    /** The first host of a Slurm node list: "node[07-09,12],gpu1" -> "node07". */
    static String firstHost(String nodelist) {
        String first = nodelist;
        int depth = 0;
        for (int k = 0; k < nodelist.length(); k++) {
            char c = nodelist.charAt(k);
            if (c == '[') depth++;
            else if (c == ']') depth--;
            else if (c == ',' && depth == 0) { first = nodelist.substring(0, k); break; }
        }
        int open = first.indexOf('[');
        if (open < 0) return first.trim();
        int close = first.indexOf(']', open);
        String inside = first.substring(open + 1, close);
        String start = inside.split(",")[0].split("-")[0];
        return (first.substring(0, open) + start + first.substring(close + 1)).trim();
    }

    private static double number(String name, String v) {
        try { return Double.parseDouble(v.trim()); } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " expects a number of seconds, got '" + v + "'");
        }
    }

    /** The node a global rank runs on when every node runs nprocPerNode ranks in order; -1 when unknown (one rank per Slurm task). */
    public int nodeOf(int rank) {
        boolean uniform = ranks.count() == nprocPerNode && ranks.world() == nnodes * nprocPerNode;
        return uniform && rank >= 0 && rank < ranks.world() ? rank / nprocPerNode : -1;
    }

    /** True when this launcher starts every rank of the job, so that a token it makes up reaches them all. */
    public boolean startsWholeJob() { return nnodes == 1 && ranks.count() == ranks.world(); }

    private static int integer(String name, String v) {
        try { return Integer.parseInt(v.trim()); } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " expects an integer, got '" + v + "'");
        }
    }
}
