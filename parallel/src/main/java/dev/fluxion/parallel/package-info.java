/**
 * Distributed training: process groups, the rendezvous store, data parallelism and the launcher.
 *
 * <ul>
 *   <li>{@link dev.fluxion.parallel.ProcessGroup}: collectives and point-to-point transfers with async
 *       {@link dev.fluxion.parallel.Work} handles and sub-groups. {@link dev.fluxion.parallel.Distributed}
 *       joins the job the launcher started.</li>
 *   <li>{@code tcp}: the backend for CPU tensors (pipelined ring all-reduce, all-gather and reduce-scatter, tree
 *       broadcast, send/recv over NIO), with failure reports that name the rank responsible.</li>
 *   <li>{@code nccl}: the backend for CUDA tensors through the JavaCPP presets, behind the
 *       {@link dev.fluxion.parallel.nccl.CudaTensors} seam the native module fills; not yet run on a GPU.</li>
 *   <li>{@code store}: the TCP key-value store rank 0 hosts (plain binary protocol, shared token, timeouts).</li>
 *   <li>{@link dev.fluxion.parallel.DistributedDataParallel}: bucketed gradient all-reduce overlapping backward.</li>
 *   <li>{@code pipeline}: pipeline parallelism: schedules as data, their validator and simulator, and the
 *       interpreter that runs them over send/recv.</li>
 *   <li>{@code tensor}: Megatron-style tensor and sequence parallelism (column-, row- and vocab-parallel layers,
 *       their collectives as autodiff functions, a plan that makes a Gpt tensor-parallel, single-process
 *       checkpoints); its groups come from a {@link dev.fluxion.parallel.DeviceMesh}.</li>
 *   <li>{@code launch}: {@code bin/fluxrun}'s Java side; {@code bench}: the all-reduce bandwidth harness.</li>
 * </ul>
 */
package dev.fluxion.parallel;
