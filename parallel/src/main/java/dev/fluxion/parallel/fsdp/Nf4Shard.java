package dev.fluxion.parallel.fsdp;

import dev.fluxion.nn.lora.Nf4Weight;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;

import java.nio.ByteBuffer;

/**
 * A frozen 4-bit NF4 base weight (QLoRA's {@code Nf4Linear}) under FSDP. It is no floating-point Parameter,
 * so it does not go through the unit's float buffers: rank r keeps whole quantization blocks
 * [r * blocksPerRank, (r + 1) * blocksPerRank) of the flattened weight as bytes (codes and each block's scale,
 * {@link Nf4Weight#exportBlocks}); for a weight whose rows are a multiple of 64 elements long that is a range
 * of rows, like a Parameter's shard. The unit gathers every rank's bytes with one uint8 all-gather and
 * imports them, which restores the weight bit for bit; resharding releases them. The nested
 * double-quantization state (one float per 256 blocks, and the offset) is a few bytes and stays on every rank.
 */
final class Nf4Shard {
    final String path;              // the Nf4Linear's module path
    final Nf4Weight weight;
    final int blocksPerRank;        // ceil(blocks / shards)
    final byte[] local;             // (blocksPerRank * bytesPerBlock): this rank's blocks, zero past the last block
    long offset;                    // in the unit's flat byte buffer of one rank

    /** Cuts this rank's blocks out of weight, after making every rank's copy rank 0's (a collective over world). */
    Nf4Shard(String path, Nf4Weight weight, ProcessGroup world, int shards, int rank) {
        this.path = path;
        this.weight = weight;
        this.blocksPerRank = (weight.blocks() + shards - 1) / shards;
        int per = weight.bytesPerBlock();
        byte[] all = new byte[weight.blocks() * per];
        weight.exportBlocks(0, weight.blocks(), all, 0);
        if (world.size() > 1) {
            // as the parameters: every rank starts from rank 0's weight
            try (Tensor t = bytes(all)) {
                world.broadcast(t, 0).waitFor();
                t.storage().readBytes(0, ByteBuffer.wrap(all));
            }
            weight.importBlocks(0, weight.blocks(), all, 0);
        }
        this.local = new byte[blocksPerRank * per];
        int first = rank * blocksPerRank, have = Math.max(0, Math.min(blocksPerRank, weight.blocks() - first));
        System.arraycopy(all, first * per, local, 0, have * per);
    }

    /** A CPU uint8 tensor holding b. */
    static Tensor bytes(byte[] b) {
        Tensor t = Tensor.zeros(DType.UINT8, Device.CPU, b.length);
        t.storage().writeBytes(0, ByteBuffer.wrap(b));
        return t;
    }

    /** Restores the whole weight from a gathered buffer: rank r's unit bytes start at r * rankBytes. */
    void importFrom(byte[] gathered, long rankBytes, int shards) {
        for (int r = 0; r < shards; r++)
            weight.importBlocks(r * blocksPerRank, blocksPerRank, gathered, (int) (r * rankBytes + offset));
    }

    @Override public String toString() { return path + " nf4 " + java.util.Arrays.toString(weight.shape()); }
}
