/**
 * Data loading as torch.utils.data: {@link dev.fluxion.nn.data.Dataset} (indexed) and
 * {@link dev.fluxion.nn.data.IterableDataset} (a stream), {@link dev.fluxion.nn.data.TensorDataset},
 * {@link dev.fluxion.nn.data.Csv} (numeric columns of a CSV file), and a {@link dev.fluxion.nn.data.DataLoader}
 * that batches, shuffles with a seed, collates and prefetches on worker threads, with
 * {@link dev.fluxion.nn.data.Sampler}s including {@link dev.fluxion.nn.data.DistributedSampler}.
 *
 * <p>It lives in fluxion-nn (not a module of its own) because a training script needs it beside the
 * modules and losses, it uses only tensor ops, and a distributed sampler needs only (rank, world size)
 * integers, not fluxion-parallel.
 */
package dev.fluxion.nn.data;
