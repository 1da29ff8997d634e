/**
 * Pipeline parallelism with schedules as data.
 *
 * <ul>
 *   <li>{@link dev.fluxion.parallel.pipeline.Schedule}: per rank, a list of {@link dev.fluxion.parallel.pipeline.Action}s
 *       (forward, whole backward, input-gradient and weight-gradient backward, send and receive of activations
 *       and gradients); CSV in and out, so a schedule can come from a file.</li>
 *   <li>{@link dev.fluxion.parallel.pipeline.Schedules}: GPipe, 1F1B (PipeDream-Flush), interleaved 1F1B and ZB-H1.</li>
 *   <li>{@link dev.fluxion.parallel.pipeline.ScheduleValidator}: rejects a schedule that would deadlock, send
 *       without a matching receive, run a backward before its forward or exceed an activation bound, naming the
 *       rank and the action.</li>
 *   <li>{@link dev.fluxion.parallel.pipeline.Simulator}: bubble fraction, peak in-flight activations per rank,
 *       bytes sent and a timeline, for any schedule and costs.</li>
 *   <li>{@link dev.fluxion.parallel.pipeline.PipelineRunner}: the one interpreter, over a process group's
 *       send/recv; {@code forGpt} cuts a {@link dev.fluxion.nn.Gpt} into stages.</li>
 *   <li>{@link dev.fluxion.parallel.pipeline.MeshPipeline}: 3-D training, pipeline x FSDP x tensor parallel on a
 *       ("pp", "dp", "tp") {@link dev.fluxion.parallel.DeviceMesh}.</li>
 * </ul>
 */
package dev.fluxion.parallel.pipeline;
