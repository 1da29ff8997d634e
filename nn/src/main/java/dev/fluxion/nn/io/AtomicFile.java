package dev.fluxion.nn.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

/**
 * Replaces a file atomically: the content goes to a temporary file in the same directory, is forced to
 * disk, and is renamed over the target; then the directory is synced so the rename itself is durable.
 * Readers see the old file or the new one, never a partial one; a failed write leaves the old file as it was.
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
            if (!committed) Files.deleteIfExists(tmp);
        }
    }

    static void write(Path target, Body body) throws IOException {
        try (Pending p = prepare(target, body)) {
            p.commit();
        }
    }

    /** Writes body to ".<name>.<random>.tmp" beside target and forces it to disk; target is not touched yet. */
    static Pending prepare(Path target, Body body) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = dir.resolve("." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        // CREATE_NEW with default attributes: the file gets the umask's permissions (createTempFile would make it owner-only)
        FileChannel ch = FileChannel.open(tmp, CREATE_NEW, WRITE);
        try (ch) {
            body.write(ch);
            ch.force(true);
        } catch (Throwable t) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException e) {
                t.addSuppressed(e);
            }
            throw t;
        }
        return new Pending(tmp, target.toAbsolutePath());
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Some platforms (Windows) cannot open or sync a directory; the rename is atomic all the same.
        }
    }
}
