package dev.fluxion.parallel.pipeline;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A pipeline schedule as data: for each rank, the list of actions it runs in order. Stages are placed in a
 * loop: stage s lives on rank {@code s % ranks}, so with {@code stages = v * ranks} each rank holds v virtual
 * stages (interleaving). Generators are in {@link Schedules}; {@link ScheduleValidator} checks one before it
 * runs, {@link Simulator} predicts its bubble and memory, {@link PipelineRunner} executes it.
 *
 * <p>CSV form ({@link #toCsv}, {@link #fromCsv}): a header {@code rank,kind,stage,microbatch}, then one line
 * per action, each rank's actions in order, kinds by their short names (F, B, I, W, SEND_F, RECV_F, SEND_B,
 * RECV_B). Lines starting with # are comments.
 *
 * @param name         for messages and tables ("1f1b", "my.csv")
 * @param ranks        pipeline ranks p
 * @param stages       stages S, a multiple of p
 * @param microbatches micro-batches m per step
 * @param actions      per rank, its actions in order (copied, unmodifiable)
 */
public record Schedule(String name, int ranks, int stages, int microbatches, List<List<Action>> actions) {
    public Schedule {
        if (ranks < 1 || stages < ranks || stages % ranks != 0 || microbatches < 1)
            throw new IllegalArgumentException("Schedule " + name + ": " + ranks + " ranks, " + stages + " stages, " + microbatches
                    + " micro-batches; need ranks >= 1, stages a positive multiple of ranks, micro-batches >= 1");
        if (actions.size() != ranks)
            throw new IllegalArgumentException("Schedule " + name + ": " + actions.size() + " action lists for " + ranks + " ranks");
        List<List<Action>> copy = new ArrayList<>();
        for (List<Action> l : actions) copy.add(List.copyOf(l));
        actions = List.copyOf(copy);
    }

    /** The rank that holds a stage. */
    public int rankOf(int stage) { return stage % ranks; }

    /** Virtual stages per rank (1 unless interleaved). */
    public int stagesPerRank() { return stages / ranks; }

    /** One rank's actions. */
    public List<Action> actions(int rank) { return actions.get(rank); }

    /** The schedule as CSV text (see the class comment). */
    public String toCsv() {
        StringBuilder sb = new StringBuilder("# schedule " + name + ": " + ranks + " ranks, " + stages + " stages, " + microbatches + " micro-batches\n");
        sb.append("rank,kind,stage,microbatch\n");
        for (int r = 0; r < ranks; r++)
            for (Action a : actions.get(r)) sb.append(r).append(',').append(a.kind().shortName()).append(',').append(a.stage()).append(',').append(a.microbatch()).append('\n');
        return sb.toString();
    }

    /** Writes {@link #toCsv()} to a file. */
    public void writeCsv(Path file) throws IOException { Files.writeString(file, toCsv(), StandardCharsets.UTF_8); }

    /** Reads a schedule written by {@link #writeCsv} (or by hand) for the given sizes. */
    public static Schedule readCsv(Path file, int ranks, int stages, int microbatches) throws IOException {
        return fromCsv(file.getFileName().toString(), Files.readString(file, StandardCharsets.UTF_8), ranks, stages, microbatches);
    }

    /** Parses CSV text; ranks must be 0..ranks-1, each rank's lines in the order it runs them. */
    public static Schedule fromCsv(String name, String csv, int ranks, int stages, int microbatches) {
        List<List<Action>> per = new ArrayList<>();
        for (int r = 0; r < ranks; r++) per.add(new ArrayList<>());
        boolean header = false;
        String[] lines = csv.split("\\R");
        for (int n = 0; n < lines.length; n++) {
            String line = lines[n].strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] f = line.split("\\s*,\\s*");
            if (!header) {
                if (!line.replace(" ", "").equals("rank,kind,stage,microbatch"))
                    throw new IllegalArgumentException(name + " line " + (n + 1) + ": expected the header 'rank,kind,stage,microbatch', got '" + line + "'");
                header = true;
                continue;
            }
            if (f.length != 4) throw new IllegalArgumentException(name + " line " + (n + 1) + ": expected 4 fields rank,kind,stage,microbatch, got '" + line + "'");
            try {
                int rank = Integer.parseInt(f[0]);
                if (rank < 0 || rank >= ranks) throw new IllegalArgumentException("rank " + rank + " is outside 0.." + (ranks - 1));
                per.get(rank).add(new Action(Action.Kind.parse(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3])));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(name + " line " + (n + 1) + " '" + line + "': " + e.getMessage(), e);
            }
        }
        if (!header) throw new IllegalArgumentException(name + ": no header line 'rank,kind,stage,microbatch'");
        return new Schedule(name, ranks, stages, microbatches, per);
    }
}
