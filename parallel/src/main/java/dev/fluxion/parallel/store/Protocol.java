package dev.fluxion.parallel.store;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The store's wire format, plain binary and big-endian: every message is a frame [u32 length][u8 code][body].
 * A request's code is its op; a reply's code is its status. Body fields are byte strings [u32 n][n bytes]
 * and 64-bit integers. A connection must open with HELLO (magic, version, token, generation) before anything else.
 * The generation is the job's restart count: a store refuses a client of another generation with STALE and its
 * own generation, so a restarted rank that reaches the previous run's store (still alive for a moment) retries
 * instead of joining a store that is about to die.
 *
 * <pre>
 * HELLO   magic u32, version u16, token bytes,
 *         generation u32                          -> OK | DENIED message | STALE generation u32
 * SET     key, value                              -> OK
 * GET     key, timeoutMs i64                      -> OK value | TIMEOUT
 * TRY_GET key                                     -> OK value | NOT_FOUND
 * WAIT    n u32, n keys, timeoutMs i64            -> OK | TIMEOUT missing-keys (n u32, keys)
 * ADD     key, delta i64                          -> OK value i64
 * CAS     key, hasExpected u8, expected, desired  -> OK present u8, value
 * DELETE  key                                     -> OK existed u8
 * </pre>
 */
final class Protocol {
    private Protocol() {}

    static final int MAGIC = 0x46585354;   // "FXST"
    static final short VERSION = 2;
    static final int MAX_FRAME = 64 << 20;
    static final int MAX_KEY = 4096;
    static final int MAX_TOKEN = 1024;
    /** The largest HELLO frame body: code, magic, version, token, generation. The only frame a client may send before it is admitted. */
    static final int MAX_HELLO = 1 + 4 + 2 + 4 + MAX_TOKEN + 4;

    // requests
    static final byte HELLO = 1, SET = 2, GET = 3, TRY_GET = 4, WAIT = 5, ADD = 6, CAS = 7, DELETE = 8;
    // replies
    static final byte OK = 0, NOT_FOUND = 1, TIMEOUT = 2, DENIED = 3, ERROR = 4, STALE = 5;

    static String opName(byte op) {
        return switch (op) {
            case HELLO -> "hello"; case SET -> "set"; case GET -> "get"; case TRY_GET -> "tryGet"; case WAIT -> "wait";
            case ADD -> "add"; case CAS -> "compareAndSet"; case DELETE -> "delete"; default -> "op " + op;
        };
    }

    /** Builds one frame: code, then the fields (byte[] as length-prefixed strings, Long as i64, Integer as u32, Byte as u8). */
    static ByteBuffer frame(byte code, Object... fields) {
        int n = 1;
        for (Object f : fields) n += size(f);
        ByteBuffer b = ByteBuffer.allocate(4 + n);
        b.putInt(n).put(code);
        for (Object f : fields) {
            if (f instanceof byte[] a) b.putInt(a.length).put(a);
            else if (f instanceof String s) { byte[] a = utf8(s); b.putInt(a.length).put(a); }
            else if (f instanceof Long l) b.putLong(l);
            else if (f instanceof Integer i) b.putInt(i);
            else if (f instanceof Byte x) b.put(x);
            else if (f instanceof Short x) b.putShort(x);
            else throw new IllegalArgumentException("store protocol: cannot encode " + f);
        }
        return b.flip();
    }

    private static int size(Object f) {
        if (f instanceof byte[] a) return 4 + a.length;
        if (f instanceof String s) return 4 + utf8(s).length;
        if (f instanceof Long) return 8;
        if (f instanceof Integer) return 4;
        if (f instanceof Short) return 2;
        if (f instanceof Byte) return 1;
        throw new IllegalArgumentException("store protocol: cannot encode " + f);
    }

    static byte[] utf8(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    /** Reads a length-prefixed byte string, checking it fits the frame and the limit. */
    static byte[] bytes(ByteBuffer b, int limit, String what) {
        if (b.remaining() < 4) throw new IllegalArgumentException("store protocol: truncated " + what);
        int n = b.getInt();
        if (n < 0 || n > limit || n > b.remaining())
            throw new IllegalArgumentException("store protocol: " + what + " of " + n + " bytes (limit " + limit + ", " + b.remaining() + " left in frame)");
        byte[] a = new byte[n];
        b.get(a);
        return a;
    }

    static String key(ByteBuffer b) { return new String(bytes(b, MAX_KEY, "key"), StandardCharsets.UTF_8); }
}
