/**
 * Parameter servers: parameters sharded over servers ({@link dev.fluxion.parallel.ps.ShardLayout}), workers
 * that push gradients and pull parameters over a small binary TCP protocol
 * ({@link dev.fluxion.parallel.ps.ParameterServerClient}), a server-side optimizer, and the consistency models
 * BSP, SSP(s) and ASP ({@link dev.fluxion.parallel.ps.Consistency}). In SSP and ASP workers may die (dropped
 * after a timeout) and join; servers checkpoint atomically and resume.
 * {@link dev.fluxion.parallel.ps.ParameterServers} runs one server per rank of a {@code bin/fluxrun} job.
 */
package dev.fluxion.parallel.ps;
