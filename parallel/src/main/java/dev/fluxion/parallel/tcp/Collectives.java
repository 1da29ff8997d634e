package dev.fluxion.parallel.tcp;

import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.parallel.net.Deadline;
import dev.fluxion.tensor.DType;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The algorithms of the TCP backend, each as one {@link Exchange}: ring all-reduce (reduce-scatter then
 * all-gather, 2(n-1) steps each moving about S/n bytes), ring all-gather and reduce-scatter, binomial-tree
 * broadcast, point to point. Chunks follow NCCL's indexing: at reduce-scatter step s rank r sends chunk
 * (r - s) mod n and accumulates the chunk (r - s - 1) mod n it receives, so after n-1 steps it owns the fully
 * reduced chunk (r + 1) mod n; each chunk is reduced once, along the ring, then copied, which is why every
 * rank ends with bitwise-identical values.
 */
final class Collectives {
    private Collectives() {}

    /** What an algorithm needs from its group: who it is, its links, and a selector to run them on. */
    interface Comm {
        int rank();
        int size();
        Link[] links(int[] peers, Deadline deadline) throws LinkFailure;
        Exchange exchange();
        java.nio.channels.Selector selector();
    }

    /** First element of chunk c when count elements are split into n chunks as evenly as possible. */
    static int chunkStart(int count, int n, int c) { return c * (count / n) + Math.min(c, count % n); }

    static ByteBuffer slice(ByteBuffer b, int offset, int length) { return b.duplicate().limit(offset + length).position(offset).slice(); }

    private static int mod(int a, int n) { return ((a % n) + n) % n; }

    /** In-place ring all-reduce of count elements in data; scratch holds at least one chunk. */
    static void allReduce(Comm c, Deadline d, Header h, ByteBuffer data, ByteBuffer scratch, int count, DType dt, ReduceOp op) throws LinkFailure {
        int n = c.size(), r = c.rank(), es = dt.byteSize();
        if (n == 1) return;   // AVG over one rank divides by 1
        int[] off = new int[n + 1];
        for (int k = 0; k <= n; k++) off[k] = chunkStart(count, n, k) * es;
        int steps = 2 * (n - 1);
        int[] send = new int[steps], recv = new int[steps];
        for (int s = 0; s < n - 1; s++) { send[s] = mod(r - s, n); recv[s] = mod(r - s - 1, n); }
        for (int t = 0; t < n - 1; t++) { send[n - 1 + t] = mod(r + 1 - t, n); recv[n - 1 + t] = mod(r - t, n); }
        ring(c, d, h, data, scratch, off, send, recv, n - 1, dt, op);
    }

    /** Ring all-gather: data holds n blocks of blockBytes, this rank's own block already in place. */
    static void allGather(Comm c, Deadline d, Header h, ByteBuffer data, int blockBytes) throws LinkFailure {
        int n = c.size(), r = c.rank();
        if (n == 1) return;
        int[] off = new int[n + 1];
        for (int k = 0; k <= n; k++) off[k] = k * blockBytes;
        int[] send = new int[n - 1], recv = new int[n - 1];
        for (int t = 0; t < n - 1; t++) { send[t] = mod(r - t, n); recv[t] = mod(r - t - 1, n); }
        ring(c, d, h, data, null, off, send, recv, 0, null, null);
    }

    /**
     * Ring reduce-scatter of n blocks of blockCount elements in data; afterwards block rank() holds the
     * reduced values (NCCL's convention: block i ends on rank i).
     */
    static void reduceScatter(Comm c, Deadline d, Header h, ByteBuffer data, ByteBuffer scratch, int blockCount, DType dt, ReduceOp op) throws LinkFailure {
        int n = c.size(), r = c.rank(), es = dt.byteSize();
        if (n == 1) return;
        int[] off = new int[n + 1];
        for (int k = 0; k <= n; k++) off[k] = k * blockCount * es;
        int[] send = new int[n - 1], recv = new int[n - 1];
        // the all-reduce rule shifted by one chunk, so that rank r ends owning chunk r
        for (int s = 0; s < n - 1; s++) { send[s] = mod(r - s - 1, n); recv[s] = mod(r - s - 2, n); }
        ring(c, d, h, data, scratch, off, send, recv, n - 1, dt, op);
    }

    /**
     * One pass around the ring: at step i send chunk send[i] to the right and receive chunk recv[i] from the
     * left, reducing it into place during the first reduceSteps steps (AVG divides in the last of them) and
     * copying it afterwards. Since send[i+1] == recv[i], step i+1's send is gated by step i's processed bytes.
     */
    private static void ring(Comm c, Deadline d, Header h, ByteBuffer data, ByteBuffer scratch, int[] off, int[] send, int[] recv,
                             int reduceSteps, DType dt, ReduceOp op) throws LinkFailure {
        int n = c.size(), r = c.rank();
        Link[] ls = c.links(new int[] {mod(r + 1, n), mod(r - 1, n)}, d);
        Link right = ls[0], left = ls[1];
        ByteBuffer[] parts = new ByteBuffer[send.length];
        Exchange.Segment[] segs = new Exchange.Segment[recv.length];
        for (int i = 0; i < send.length; i++) {
            int sc = send[i], rc = recv[i];
            parts[i] = slice(data, off[sc], off[sc + 1] - off[sc]);
            int len = off[rc + 1] - off[rc];
            if (i < reduceSteps) {
                int base = off[rc];
                boolean divide = op == ReduceOp.AVG && i == reduceSteps - 1;
                int es = dt.byteSize();
                segs[i] = new Exchange.Segment(slice(scratch, 0, len), es, (from, to) -> {
                    Reduction.combine(dt, op, data, base + from, scratch, from, (to - from) / es);
                    if (divide) Reduction.divide(dt, data, base + from, (to - from) / es, n);
                });
            } else {
                segs[i] = Exchange.Segment.copy(slice(data, off[rc], len));
            }
        }
        Exchange x = c.exchange();
        Exchange.In in = x.recv(left, h, segs);
        long first = parts[0].remaining();
        x.send(right, h, () -> first + in.processed(), parts);
        x.run(c.selector(), d);
    }

    /** Binomial-tree broadcast of len bytes of data from root, forwarded to children as it arrives. */
    static void broadcast(Comm c, Deadline d, Header h, ByteBuffer data, int len, int root) throws LinkFailure {
        int n = c.size();
        if (n == 1) return;
        int v = mod(c.rank() - root, n);
        int parent = v == 0 ? -1 : mod((v & (v - 1)) + root, n);
        List<Integer> children = new ArrayList<>();
        int low = v == 0 ? Integer.MAX_VALUE : Integer.lowestOneBit(v);
        for (int m = 1; m < n && m < low; m <<= 1) if (v + m < n) children.add(mod(v + m + root, n));
        int[] peers = new int[children.size() + (parent >= 0 ? 1 : 0)];
        for (int i = 0; i < children.size(); i++) peers[i] = children.get(i);
        if (parent >= 0) peers[peers.length - 1] = parent;
        Link[] ls = c.links(peers, d);
        Exchange x = c.exchange();
        Exchange.In in = parent >= 0 ? x.recv(ls[ls.length - 1], h, Exchange.Segment.copy(slice(data, 0, len))) : null;
        for (int i = children.size() - 1; i >= 0; i--)   // the largest subtree first
            x.send(ls[i], h, in == null ? null : in::processed, slice(data, 0, len));
        x.run(c.selector(), d);
    }

    /** Sends and receives at once; either side may be absent (peer -1). */
    static void sendRecv(Comm c, Deadline d, Header sendHeader, ByteBuffer sendData, int sendPeer, Header recvHeader, ByteBuffer recvData, int recvPeer)
            throws LinkFailure {
        int[] peers = sendPeer >= 0 && recvPeer >= 0 ? (sendPeer == recvPeer ? new int[] {sendPeer} : new int[] {sendPeer, recvPeer})
                : new int[] {Math.max(sendPeer, recvPeer)};
        Link[] ls = c.links(peers, d);
        Exchange x = c.exchange();
        if (sendPeer >= 0) x.send(ls[0], sendHeader, null, sendData);
        if (recvPeer >= 0) x.recv(ls[ls.length - 1], recvHeader, Exchange.Segment.copy(recvData));
        x.run(c.selector(), d);
    }
}
