/**
 * Periodic model averaging: local SGD and DiLoCo ({@link dev.fluxion.parallel.localsgd.DiLoCo}). Ranks train
 * on their own for H steps and meet only to average what they learnt, so a slow rank holds the others back
 * once per H steps instead of at every step, and the network carries one model per H steps.
 */
package dev.fluxion.parallel.localsgd;
