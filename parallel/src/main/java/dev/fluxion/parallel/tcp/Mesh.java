package dev.fluxion.parallel.tcp;

import dev.fluxion.parallel.net.Deadline;
import dev.fluxion.parallel.net.TimedChannel;
import dev.fluxion.parallel.store.Store;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.logging.Logger;

/**
 * The connections of one rank of a group: one per peer it talks to, made on first need (ring neighbours at
 * once). The lower rank of a pair connects, the higher accepts, so no two ranks wait on each other. Every
 * rank listens on an ephemeral port of the address it reaches the store from and publishes it in the
 * store; a connection opens with the group's random secret (also shared through the store) and the
 * connecting rank, so strangers and ranks of other groups are turned away.
 */
final class Mesh implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("dev.fluxion.parallel");
    private static final int HELLO = 0x46585047, ACK = 0x46584F4B;   // "FXPG", "FXOK"
    private static final int SECRET_BYTES = 16;
    private static final Duration HANDSHAKE_WITHIN = Duration.ofSeconds(10);

    private final Store store;
    private final String ns;
    private final int rank, size;
    private final byte[] secret;
    private final ServerSocketChannel listener;
    private final Selector acceptSelector;
    private final Link[] links;
    private final Map<Integer, SocketChannel> accepted = new HashMap<>();   // connected, not yet asked for
    private final IntFunction<String> names;
    private final int socketBuffer;

    private Mesh(Store store, String ns, int rank, int size, byte[] secret, ServerSocketChannel listener, Selector acceptSelector,
                 IntFunction<String> names, int socketBuffer) {
        this.store = store;
        this.ns = ns;
        this.rank = rank;
        this.size = size;
        this.secret = secret;
        this.listener = listener;
        this.acceptSelector = acceptSelector;
        this.links = new Link[size];
        this.names = names;
        this.socketBuffer = socketBuffer;
    }

    /**
     * Listens on bind, publishes the address under ns, and agrees on the group secret (rank 0 makes it).
     * socketBuffer sets SO_SNDBUF/SO_RCVBUF when positive (0 leaves the kernel's autotuning).
     */
    static Mesh open(Store store, String ns, int rank, int size, InetAddress bind, Duration timeout, IntFunction<String> names, int socketBuffer)
            throws IOException {
        ServerSocketChannel ch = ServerSocketChannel.open();
        Selector sel = null;
        try {
            if (socketBuffer > 0) ch.setOption(StandardSocketOptions.SO_RCVBUF, socketBuffer);
            ch.bind(new InetSocketAddress(bind, 0), Math.max(64, size));
            ch.configureBlocking(false);
            sel = Selector.open();
            ch.register(sel, SelectionKey.OP_ACCEPT);
            byte[] secret;
            if (rank == 0) {
                secret = new byte[SECRET_BYTES];
                new SecureRandom().nextBytes(secret);
                store.set(ns + "/secret", secret);
            } else {
                secret = store.get(ns + "/secret", timeout);
            }
            int port = ((InetSocketAddress) ch.getLocalAddress()).getPort();
            store.set(ns + "/addr/" + rank, bind.getHostAddress() + " " + port);
            return new Mesh(store, ns, rank, size, secret, ch, sel, names, socketBuffer);
        } catch (IOException | RuntimeException e) {
            if (sel != null) sel.close();
            ch.close();
            throw e;
        }
    }

    /** The links to peers, made if needed: connections to higher ranks first, then accepts from lower ones. */
    Link[] links(int[] peers, Deadline deadline) throws LinkFailure {
        Link[] out = new Link[peers.length];
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < peers.length; i++) {
                int p = peers[i];
                if (p == rank) throw new IllegalArgumentException("a rank has no link to itself (rank " + rank + ")");
                if (links[p] != null) { out[i] = links[p]; continue; }
                if (pass == 0 && p > rank) links[p] = connect(p, deadline);
                if (pass == 1 && p < rank) links[p] = accept(p, deadline);
                out[i] = links[p];
            }
        }
        return out;
    }

    private Link connect(int peer, Deadline deadline) throws LinkFailure {
        String addr;
        try {
            addr = new String(store.get(ns + "/addr/" + peer, Duration.ofMillis(Math.max(1, deadline.millisLeft()))), java.nio.charset.StandardCharsets.UTF_8);
        } catch (RuntimeException e) {
            throw new LinkFailure(LinkFailure.Kind.CONNECT, peer, names.apply(peer) + " never published its address (it has not joined the group): " + e.getMessage(), e);
        }
        String[] hp = addr.split(" ");
        InetSocketAddress target = new InetSocketAddress(hp[0], Integer.parseInt(hp[1]));
        TimedChannel tc = null;
        try {
            tc = TimedChannel.connect(target, deadline, names.apply(peer) + " at " + hp[0] + ":" + hp[1]);
            tune(tc.channel());
            ByteBuffer hello = ByteBuffer.allocate(4 + SECRET_BYTES + 8).putInt(HELLO).put(secret).putInt(rank).putInt(size).flip();
            tc.writeFully(hello, deadline);
            ByteBuffer ack = ByteBuffer.allocate(4);
            tc.readFully(ack, deadline);
            if (ack.flip().getInt() != ACK) throw new IOException("it answered with a wrong acknowledgement");
            return new Link(peer, tc.detach());
        } catch (IOException e) {
            if (tc != null) tc.close();
            throw new LinkFailure(LinkFailure.Kind.CONNECT, peer, "cannot connect to " + names.apply(peer) + " at " + hp[0] + ":" + hp[1] + ": " + e.getMessage(), e);
        }
    }

    private Link accept(int peer, Deadline deadline) throws LinkFailure {
        try {
            while (!accepted.containsKey(peer)) {
                SocketChannel ch = listener.accept();
                if (ch == null) {
                    long ms = deadline.millisLeft();
                    if (ms == 0)
                        throw new LinkFailure(LinkFailure.Kind.TIMEOUT, peer, names.apply(peer) + " did not connect to this rank in time (it is stalled, dead, or not in this operation)");
                    acceptSelector.select(ms);
                    acceptSelector.selectedKeys().clear();
                    continue;
                }
                handshake(ch, deadline);
            }
        } catch (IOException e) {
            throw new LinkFailure(LinkFailure.Kind.CONNECT, peer, "accepting a connection from " + names.apply(peer) + " failed: " + e.getMessage(), e);
        }
        return new Link(peer, accepted.remove(peer));
    }

    /** Reads a newcomer's hello; keeps it if it is a member of this group, else closes it. */
    private void handshake(SocketChannel ch, Deadline deadline) throws IOException {
        TimedChannel tc = new TimedChannel(ch, "a connecting peer");
        try {
            tune(ch);
            ByteBuffer hello = ByteBuffer.allocate(4 + SECRET_BYTES + 8);
            tc.readFully(hello, deadline.min(Deadline.after(HANDSHAKE_WITHIN)));
            hello.flip();
            byte[] s = new byte[SECRET_BYTES];
            int magic = hello.getInt();
            hello.get(s);
            int from = hello.getInt(), n = hello.getInt();
            if (magic != HELLO || !MessageDigest.isEqual(s, secret) || n != size || from < 0 || from >= rank || accepted.containsKey(from) || links[from] != null) {
                LOG.warning("group " + ns + " rank " + rank + ": turned away a connection from " + ch.getRemoteAddress() + " (not a member of this group)");
                tc.close();
                return;
            }
            tc.writeFully(ByteBuffer.allocate(4).putInt(ACK).flip(), deadline);
            accepted.put(from, tc.detach());
        } catch (IOException e) {
            tc.close();
            LOG.fine("group " + ns + ": dropped a connection during its handshake: " + e);
        }
    }

    private void tune(SocketChannel ch) throws IOException {
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        if (socketBuffer > 0) {
            ch.setOption(StandardSocketOptions.SO_SNDBUF, socketBuffer);
            ch.setOption(StandardSocketOptions.SO_RCVBUF, socketBuffer);
        }
    }

    @Override public void close() {
        for (Link l : links) if (l != null) l.close();
        for (SocketChannel c : accepted.values()) { try { c.close(); } catch (IOException ignored) { } }
        try { acceptSelector.close(); } catch (IOException ignored) { }
        try { listener.close(); } catch (IOException ignored) { }
    }
}
