package dev.fluxion.nn.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file that is not a valid safetensors file or training checkpoint: a bad header, offsets that do not
 * tile the data, a truncated file, a checksum that does not match. The message names the file and the
 * problem. Plain I/O failures (missing file, permissions) stay ordinary {@link IOException}s.
 */
public class SafetensorsException extends IOException {
    private static final long serialVersionUID = 1L;

    public SafetensorsException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public SafetensorsException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
