package dev.fluxion.parallel.tcp;

import dev.fluxion.parallel.AsyncWork;
import dev.fluxion.parallel.DistributedException;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.parallel.Work;
import dev.fluxion.parallel.net.Deadline;
import dev.fluxion.parallel.store.TcpStore;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Selector;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The process group for CPU tensors over TCP (NIO; in place on the tensors' off-heap memory, so nothing is
 * copied but what the kernel copies; one connection per peer pair, ring neighbours connected at creation).
 * Operations run in call order on the group's own thread, each as a
 * pipelined {@link Exchange} of the algorithms in {@link Collectives}. A failure breaks the group: its
 * connections are closed at once (so peers notice within milliseconds), the ranks compare notes through the
 * store ({@link Diagnosis}) and every waiter gets a message naming the rank responsible.
 *
 * <pre>{@code
 * try (var store = TcpStore.connect("127.0.0.1", port, token, Duration.ofSeconds(30), "rank 1");
 *      var pg = TcpProcessGroup.create(store, 1, 4, TcpProcessGroup.Options.DEFAULT)) {
 *     pg.allReduce(t, ReduceOp.SUM).waitFor();
 * }
 * }</pre>
 */
public final class TcpProcessGroup implements ProcessGroup {
    /**
     * timeout bounds every wait of every operation (a part of it, up to 2 s, is kept for the failure reports);
     * socketBuffer sets SO_SNDBUF/SO_RCVBUF (0: the kernel's autotuning); namespace prefixes this job's store keys.
     */
    public record Options(Duration timeout, int socketBuffer, String namespace) {
        public static final Options DEFAULT = new Options(Duration.ofMinutes(5), 0, "fluxion");

        public Options {
            if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("TcpProcessGroup.Options: timeout must be positive, got " + timeout);
            if (socketBuffer < 0) throw new IllegalArgumentException("TcpProcessGroup.Options: socketBuffer must be >= 0, got " + socketBuffer);
        }

        public Options withTimeout(Duration t) { return new Options(t, socketBuffer, namespace); }
        public Options withSocketBuffer(int bytes) { return new Options(timeout, bytes, namespace); }
        public Options withNamespace(String ns) { return new Options(timeout, socketBuffer, ns); }
    }

    private final TcpStore store;            // this group's own connection, used from its thread
    private final String ns;
    private final int rank, size;
    private final int[] globalRanks;
    private final Options options;
    private final InetAddress bind;
    private final Mesh mesh;
    private final Selector selector;
    private final ExecutorService thread;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final Map<String, Integer> subgroups = new HashMap<>();
    private final long[] sendSeq, recvSeq;
    private long seq;
    private volatile DistributedException broken;
    private volatile boolean closed;
    private ByteBuffer work = ByteBuffer.allocateDirect(0), scratch = ByteBuffer.allocateDirect(0);

    private TcpProcessGroup(TcpStore store, String ns, int rank, int[] globalRanks, Options options, InetAddress bind) throws IOException {
        this.store = store;
        this.ns = ns;
        this.rank = rank;
        this.size = globalRanks.length;
        this.globalRanks = globalRanks;
        this.options = options;
        this.bind = bind;
        this.sendSeq = new long[size];
        this.recvSeq = new long[size];
        this.selector = Selector.open();
        this.mesh = Mesh.open(store, ns, rank, size, bind, options.timeout(), this::name, options.socketBuffer());
        this.thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fluxion-pg " + ns + " rank " + globalRanks[rank]);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * The group of all size ranks of a job, this process being rank. The store must be reachable by all;
     * the group opens its own connection to it. Ring neighbours are connected before this returns.
     */
    public static TcpProcessGroup create(TcpStore store, int rank, int size, Options options) {
        if (size < 1 || rank < 0 || rank >= size) throw new IllegalArgumentException("TcpProcessGroup: rank " + rank + " is not in [0, " + size + ")");
        int[] ranks = new int[size];
        Arrays.setAll(ranks, i -> i);
        return open(store, options.namespace() + "/world", rank, ranks, options);
    }

    private static TcpProcessGroup open(TcpStore parentStore, String ns, int rank, int[] globalRanks, Options options) {
        TcpStore own = parentStore.connectAnother();
        TcpProcessGroup g = null;
        try {
            g = new TcpProcessGroup(own, ns, rank, globalRanks, options, own.localAddress());
            g.owned.add(own);
            g.connectRing();
            return g;
        } catch (IOException e) {
            own.close();
            throw new DistributedException("rank " + globalRanks[rank] + ": cannot open process group " + ns + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            if (g != null) g.abort(); else own.close();
            throw e;
        }
    }

    private void connectRing() {
        if (size == 1) return;
        String what = "rendezvous of group " + ns;
        AsyncWork w = submit(what, d -> mesh.links(new int[] {(rank + 1) % size, (rank + size - 1) % size}, d));
        w.waitFor();
    }

    /** Makes this group close r when it closes (the store server a world group's rank 0 hosts). */
    public void closeWith(AutoCloseable r) { owned.add(r); }

    @Override public int rank() { return rank; }

    @Override public int size() { return size; }

    @Override public int globalRank(int groupRank) {
        if (groupRank < 0 || groupRank >= size) throw new IllegalArgumentException("globalRank: group rank " + groupRank + " is not in [0, " + size + ")");
        return globalRanks[groupRank];
    }

    @Override public Duration timeout() { return options.timeout(); }

    private String name(int groupRank) { return groupRank < 0 ? "no peer" : "rank " + globalRanks[groupRank]; }

    // ------------------------------------------------------------------ operations

    @Override public Work allReduce(Tensor t, ReduceOp op) {
        check("allReduce", t);
        Reduction.checkSupported("allReduce", t.dtype(), op);
        long s = nextSeq();
        Header h = header(Header.ALL_REDUCE, t.dtype(), op, s, nbytes(t));
        return submit(describe("allReduce", s, t, op), d -> {
            ByteBuffer buf = open(t, true);
            int count = (int) t.numel();                               // check() bounds a transfer to 2 GiB
            Collectives.allReduce(comm, d, h, buf, scratchBuffer(maxChunk(count) * t.dtype().byteSize()), count, t.dtype(), op);
            close(t, buf);
        });
    }

    @Override public Work broadcast(Tensor t, int root) {
        check("broadcast", t);
        checkRank("broadcast", "root", root);
        long s = nextSeq();
        Header h = header(Header.BROADCAST, t.dtype(), null, s, nbytes(t));
        return submit(describe("broadcast", s, t, null) + " from " + name(root), d -> {
            ByteBuffer buf = open(t, rank == root);
            Collectives.broadcast(comm, d, h, buf, (int) nbytes(t), root);
            if (rank != root) close(t, buf);
        });
    }

    @Override public Work allGather(Tensor output, Tensor input) {
        check("allGather", input);
        check("allGather", output);
        if (output.dtype() != input.dtype())
            throw new IllegalArgumentException("allGather: output dtype " + output.dtype() + " differs from input dtype " + input.dtype());
        if ((long) output.numel() != (long) input.numel() * size)
            throw new IllegalArgumentException("allGather: output has " + output.numel() + " elements; it needs size * input.numel() = " + size + " * " + input.numel());
        long s = nextSeq();
        Header h = header(Header.ALL_GATHER, input.dtype(), null, s, nbytes(input));
        return submit(describe("allGather", s, input, null), d -> {
            int block = (int) nbytes(input);
            ByteBuffer buf = open(output, false);
            input.storage().readBytes(input.offset(), Collectives.slice(buf, rank * block, block));
            Collectives.allGather(comm, d, h, buf, block);
            close(output, buf);
        });
    }

    @Override public Work reduceScatter(Tensor output, Tensor input, ReduceOp op) {
        check("reduceScatter", input);
        check("reduceScatter", output);
        Reduction.checkSupported("reduceScatter", input.dtype(), op);
        if (output.dtype() != input.dtype())
            throw new IllegalArgumentException("reduceScatter: output dtype " + output.dtype() + " differs from input dtype " + input.dtype());
        if ((long) input.numel() != (long) output.numel() * size)
            throw new IllegalArgumentException("reduceScatter: input has " + input.numel() + " elements; it needs size * output.numel() = " + size + " * " + output.numel());
        long s = nextSeq();
        Header h = header(Header.REDUCE_SCATTER, input.dtype(), op, s, nbytes(input));
        return submit(describe("reduceScatter", s, input, op), d -> {
            int block = (int) nbytes(output);
            ByteBuffer buf = workBuffer(block * size);   // a copy: reduce-scatter leaves its input as it was
            read(input, buf);
            Collectives.reduceScatter(comm, d, h, buf, scratchBuffer(block), (int) output.numel(), input.dtype(), op);
            output.storage().writeBytes(output.offset(), Collectives.slice(buf, rank * block, block));
            output.storage().bumpVersion();
        });
    }

    @Override public Work send(Tensor t, int peer) { return sendRecv(t, peer, null, -1, "send"); }

    @Override public Work recv(Tensor t, int peer) { return sendRecv(null, -1, t, peer, "recv"); }

    @Override public Work sendRecv(Tensor toSend, int sendPeer, Tensor toRecv, int recvPeer) {
        return sendRecv(toSend, sendPeer, toRecv, recvPeer, "sendRecv");
    }

    private Work sendRecv(Tensor toSend, int sendPeer, Tensor toRecv, int recvPeer, String op) {
        if (toSend != null) { check(op, toSend); checkPeer(op, sendPeer); }
        if (toRecv != null) { check(op, toRecv); checkPeer(op, recvPeer); }
        Header hs, hr;
        synchronized (this) {
            hs = toSend == null ? null : header(Header.P2P, toSend.dtype(), null, sendSeq[sendPeer]++, nbytes(toSend));
            hr = toRecv == null ? null : header(Header.P2P, toRecv.dtype(), null, recvSeq[recvPeer]++, nbytes(toRecv));
        }
        String what = op + (toSend != null ? " of " + toSend.dtype() + " " + Arrays.toString(toSend.shape()) + " to " + name(sendPeer) : "")
                + (toRecv != null ? (toSend != null ? " and" : "") + " of " + toRecv.dtype() + " " + Arrays.toString(toRecv.shape()) + " from " + name(recvPeer) : "");
        return submit(what, d -> {
            ByteBuffer out = toSend == null ? ByteBuffer.allocate(0) : inPlace(toSend);
            ByteBuffer in = toRecv == null ? ByteBuffer.allocate(0) : inPlace(toRecv);
            if (out == null || in == null) {   // storage without host memory: stage through the work buffer
                int ns = toSend == null ? 0 : (int) nbytes(toSend), nr = toRecv == null ? 0 : (int) nbytes(toRecv);
                ByteBuffer buf = workBuffer(ns + nr);
                if (out == null) { out = Collectives.slice(buf, 0, ns); toSend.storage().readBytes(toSend.offset(), out.duplicate()); }
                if (in == null) in = Collectives.slice(buf, ns, nr);
            }
            Collectives.sendRecv(comm, d, hs, out, toSend == null ? -1 : sendPeer, hr, in, toRecv == null ? -1 : recvPeer);
            if (toRecv != null) close(toRecv, in);
        });
    }

    @Override public Work barrier() {
        long s = nextSeq();
        Header h = header(Header.BARRIER, DType.INT32, ReduceOp.SUM, s, 4L * size);
        return submit("barrier #" + s, d -> {
            // a sum whose every element needs every rank's contribution: no rank can finish before all have arrived
            ByteBuffer buf = workBuffer(4 * size).order(ByteOrder.nativeOrder());
            for (int i = 0; i < size; i++) buf.putInt(4 * i, 1);
            Collectives.allReduce(comm, d, h, buf, scratchBuffer(4 * size), size, DType.INT32, ReduceOp.SUM);
        });
    }

    @Override public ProcessGroup newGroup(int... ranks) {
        if (ranks.length == 0) throw new IllegalArgumentException("newGroup: no ranks given");
        int me = -1;
        int[] global = new int[ranks.length];
        boolean[] seen = new boolean[size];
        for (int i = 0; i < ranks.length; i++) {
            checkRank("newGroup", "member", ranks[i]);
            if (seen[ranks[i]]) throw new IllegalArgumentException("newGroup: rank " + ranks[i] + " is listed twice in " + Arrays.toString(ranks));
            seen[ranks[i]] = true;
            global[i] = globalRanks[ranks[i]];
            if (ranks[i] == rank) me = i;
        }
        if (me < 0) throw new IllegalArgumentException("newGroup: this rank (" + rank + ") is not in " + Arrays.toString(ranks) + "; only members call newGroup");
        String key = Arrays.toString(ranks).replace(" ", "");
        int k;
        synchronized (subgroups) { k = subgroups.merge(key, 1, Integer::sum); }
        return open(store, ns + "/" + key + "#" + k, me, global, options);
    }

    // ------------------------------------------------------------------ running operations

    private interface Body { void run(Deadline d) throws LinkFailure; }

    private final Collectives.Comm comm = new Collectives.Comm() {
        @Override public int rank() { return rank; }
        @Override public int size() { return size; }
        @Override public Link[] links(int[] peers, Deadline d) throws LinkFailure { return mesh.links(peers, d); }
        @Override public Exchange exchange() { return new Exchange(TcpProcessGroup.this::name); }
        @Override public Selector selector() { return selector; }
    };

    private synchronized long nextSeq() { return seq++; }

    private Duration grace() {
        Duration quarter = options.timeout().dividedBy(4);
        return quarter.compareTo(Duration.ofSeconds(2)) < 0 ? quarter : Duration.ofSeconds(2);
    }

    private AsyncWork submit(String what, Body body) {
        String desc = what + " on rank " + globalRanks[rank] + " (" + size + " ranks)";
        AsyncWork w = new AsyncWork(desc);
        if (closed) { w.fail(new DistributedException(desc + ": the process group is closed")); return w; }
        try {
            thread.execute(() -> run(what, body, w));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            w.fail(new DistributedException(desc + ": the process group is closed"));
        }
        return w;
    }

    private void run(String what, Body body, AsyncWork w) {
        DistributedException b = broken;
        if (b != null) {
            w.fail(new DistributedException(what + " on rank " + globalRanks[rank] + " was not run: the process group broke earlier: " + b.getMessage(), b));
            return;
        }
        long start = System.nanoTime();
        try {
            body.run(Deadline.after(options.timeout().minus(grace())));
            w.complete();
        } catch (LinkFailure f) {
            w.fail(fail(what, f, start));
        } catch (RuntimeException | Error e) {
            // this rank cannot go on: close the links so the peers fail now rather than at their timeout
            LinkFailure f = new LinkFailure(LinkFailure.Kind.CLOSED, rank, "this rank failed locally: " + e, e);
            DistributedException de = fail(what, f, start);
            de.addSuppressed(e);
            w.fail(de);
        }
    }

    /**
     * Breaks the group: report, close every link, hear the others, and build the exception. Everything here
     * ends within grace (the store calls too, so a stalled rank 0 cannot stretch a failure past the timeout).
     */
    private DistributedException fail(String what, LinkFailure f, long start) {
        Deadline d = Deadline.after(grace());
        TcpStore bounded = store.until(d);
        Diagnosis.Report mine = new Diagnosis.Report(f.kind, f.peer, what, f.getMessage());
        boolean storeOk = Diagnosis.file(bounded, ns, rank, mine);
        mesh.close();
        Diagnosis.Verdict verdict = Diagnosis.verdict(bounded, ns, rank, size, mine, storeOk, d, groupRankOf(0), this::name);
        double secs = (System.nanoTime() - start) / 1e9;
        DistributedException e = new DistributedException(String.format(java.util.Locale.ROOT, "%s failed on rank %d of %d after %.1f s: %s. This rank saw: %s",
                what, globalRanks[rank], size, secs, verdict.text(), f.getMessage()), f.getCause());
        dev.fluxion.parallel.FailedPeer.print(globalRanks[rank], verdict.culprits().stream().mapToInt(c -> globalRanks[c]).toArray(), what);
        broken = e;
        return e;
    }

    /** The group rank of a world rank, or -1 when it is not in this group. */
    private int groupRankOf(int worldRank) {
        for (int i = 0; i < size; i++) if (globalRanks[i] == worldRank) return i;
        return -1;
    }

    // ------------------------------------------------------------------ buffers and checks

    private ByteBuffer workBuffer(int bytes) {
        if (work.capacity() < bytes) work = ByteBuffer.allocateDirect(Math.max(bytes, Math.min(2 * work.capacity(), Integer.MAX_VALUE - 8)));
        return work.duplicate().clear();
    }

    private ByteBuffer scratchBuffer(int bytes) {
        if (scratch.capacity() < bytes) scratch = ByteBuffer.allocateDirect(bytes);
        return scratch.duplicate().clear();
    }

    private int maxChunk(int count) { return count / size + (count % size == 0 ? 0 : 1); }

    /** t's own bytes when its storage is in host memory (zero copy), else null. */
    private static ByteBuffer inPlace(Tensor t) {
        ByteBuffer b = t.storage().hostBuffer().orElse(null);
        return b == null ? null : Collectives.slice(b, (int) (t.offset() * t.dtype().byteSize()), (int) nbytes(t)).order(ByteOrder.nativeOrder());
    }

    /** The bytes an operation works on: t's own (in place) or, failing that, the work buffer, filled with t when load. */
    private ByteBuffer open(Tensor t, boolean load) {
        ByteBuffer b = inPlace(t);
        if (b != null) return b;
        b = workBuffer((int) nbytes(t));
        if (load) read(t, b);
        return b;
    }

    /** Ends a write into t: copies b back unless it is t's own memory (see {@link #open}); bumps t's version. */
    private static void close(Tensor t, ByteBuffer b) {
        if (t.storage().hostBuffer().isPresent()) t.storage().bumpVersion();
        else write(t, b);
    }

    private static void read(Tensor t, ByteBuffer buf) { t.storage().readBytes(t.offset(), buf.duplicate().limit((int) nbytes(t))); }

    private static void write(Tensor t, ByteBuffer buf) {
        t.storage().writeBytes(t.offset(), buf.duplicate().limit((int) nbytes(t)));
        t.storage().bumpVersion();
    }

    private static long nbytes(Tensor t) { return t.numel() * t.dtype().byteSize(); }

    private void check(String op, Tensor t) {
        if (t == null) throw new IllegalArgumentException(op + ": tensor is null");
        if (t.device().kind() != Device.Kind.CPU)
            throw new IllegalArgumentException(op + ": the TCP process group moves CPU tensors; got one on " + t.device() + " (use the NCCL backend for CUDA tensors)");
        if (!t.isContiguous())
            throw new IllegalArgumentException(op + ": tensor of shape " + Arrays.toString(t.shape()) + " with strides " + Arrays.toString(t.stride())
                    + " is not contiguous; pass t.contiguous() and copy the result back");
        if (nbytes(t) > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException(op + ": tensor of " + nbytes(t) + " bytes is larger than the 2 GiB a TCP transfer handles; split it");
    }

    private void checkRank(String op, String what, int r) {
        if (r < 0 || r >= size) throw new IllegalArgumentException(op + ": " + what + " " + r + " is not a rank of this group [0, " + size + ")");
    }

    private void checkPeer(String op, int peer) {
        checkRank(op, "peer", peer);
        if (peer == rank) throw new IllegalArgumentException(op + ": peer " + peer + " is this rank itself");
    }

    private static Header header(byte op, DType dt, ReduceOp r, long seq, long bytes) {
        return new Header(op, (byte) dt.ordinal(), (byte) (r == null ? -1 : r.ordinal()), seq, bytes);
    }

    private String describe(String op, long s, Tensor t, ReduceOp r) {
        return op + " #" + s + " (" + t.dtype() + " " + Arrays.toString(t.shape()) + (r == null ? "" : ", " + r) + ")";
    }

    // ------------------------------------------------------------------ lifetime

    @Override public void close() {
        if (closed) return;
        closed = true;
        thread.shutdown();
        try {
            if (!thread.awaitTermination(options.timeout().toMillis() + 5000, TimeUnit.MILLISECONDS)) thread.shutdownNow();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            thread.shutdownNow();
        }
        release();
    }

    @Override public void abort() {
        closed = true;
        if (broken == null) broken = new DistributedException("the process group " + ns + " was aborted on rank " + globalRanks[rank]);
        mesh.close();
        selector.wakeup();
        thread.shutdownNow();
        release();
    }

    private void release() {
        mesh.close();
        try { selector.close(); } catch (IOException ignored) { }
        for (int i = owned.size() - 1; i >= 0; i--) {
            try { owned.get(i).close(); } catch (Exception ignored) { }
        }
    }

    @Override public String toString() { return "TcpProcessGroup(" + ns + ", rank " + rank + " of " + size + ")"; }
}
