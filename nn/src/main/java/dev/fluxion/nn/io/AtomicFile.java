package dev.fluxion.nn.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

/**
 * Replaces a file atomically: the content goes to a temporary file in the same directory, is forced to
 * disk, and is renamed over the target; then the directory is synced so the rename itself is durable.
 * Readers see the old file or the new one, never a partial one; a failed write leaves the old file as it was.
 *
 * <p>A process killed while writing leaves its temporary file behind; the next write of the same target (or
 * {@link #removeLeftovers}) deletes such files. They are recognized by name, ".&lt;target&gt;.&lt;pid&gt;.&lt;hex&gt;.tmp", and
 * removed only when the process that wrote them is gone (no live process has that pid on this machine, or it
 * is this process and the file is not one it is writing now). Older versions named them
 * ".&lt;target&gt;.&lt;hex&gt;.tmp", without a pid; those are always leftovers.
 */
final class AtomicFile {
    private AtomicFile() {}

    /** Writes the whole content of the file to a fresh channel. */
    interface Body {
        void write(FileChannel ch) throws IOException;
    }

    /** A complete, synced temporary file: {@link #commit()} renames it over the target, {@link #close()} otherwise deletes it. */
    static final class Pending implements AutoCloseable {
        private final Path tmp;
        private final Path target;
        private boolean committed;

        private Pending(Path tmp, Path target) {
            this.tmp = tmp;
            this.target = target;
        }

        void commit() throws IOException {
            Files.move(tmp, target, ATOMIC_MOVE, REPLACE_EXISTING);
            committed = true;
            syncDirectory(tmp.getParent());
        }

        @Override public void close() throws IOException {
            try {
                if (!committed) Files.deleteIfExists(tmp);
            } finally {
                WRITING.remove(tmp);
            }
        }
    }

    private static final Set<Path> WRITING = ConcurrentHashMap.newKeySet();   // this process's temporary files in progress

    static void write(Path target, Body body) throws IOException {
        try (Pending p = prepare(target, body)) {
            p.commit();
        }
    }

    /**
     * Writes body to ".&lt;name&gt;.&lt;pid&gt;.&lt;random&gt;.tmp" beside target and forces it to disk; target is not touched
     * yet. Leftovers of earlier, killed writes of target are deleted first.
     */
    static Pending prepare(Path target, Body body) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        removeLeftovers(target);
        Path tmp = dir.resolve("." + target.getFileName() + "." + ProcessHandle.current().pid() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        WRITING.add(tmp);
        // CREATE_NEW with default attributes: the file gets the umask's permissions (createTempFile would make it owner-only)
        try {
            FileChannel ch = FileChannel.open(tmp, CREATE_NEW, WRITE);
            try (ch) {
                body.write(ch);
                ch.force(true);
            }
        } catch (Throwable t) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException e) {
                t.addSuppressed(e);
            } finally {
                WRITING.remove(tmp);
            }
            throw t;
        }
        return new Pending(tmp, target.toAbsolutePath());
    }

    /**
     * Deletes the temporary files that killed writes of target left beside it (see the class comment); returns
     * how many. Files of other names, and those of writes still running, are left alone.
     */
    static int removeLeftovers(Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) return 0;
        Pattern ours = Pattern.compile("\\." + Pattern.quote(target.getFileName().toString()) + "\\.(?:(\\d{1,10})\\.)?[0-9a-f]{1,16}\\.tmp");
        long me = ProcessHandle.current().pid();
        int removed = 0;
        String start = "." + target.getFileName() + ".";
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, f -> f.getFileName().toString().startsWith(start))) {
            for (Path f : files) {
                Matcher m = ours.matcher(f.getFileName().toString());
                if (!m.matches() || !Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) continue;
                if (m.group(1) != null) {
                    long pid = Long.parseLong(m.group(1));
                    boolean writerAlive = pid == me ? WRITING.contains(f.toAbsolutePath()) : ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
                    if (writerAlive) continue;
                }
                if (Files.deleteIfExists(f)) removed++;
            }
        }
        return removed;
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Some platforms (Windows) cannot open or sync a directory; the rename is atomic all the same.
        }
    }
}
