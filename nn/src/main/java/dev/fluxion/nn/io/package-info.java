/**
 * Files: {@link dev.fluxion.nn.io.Safetensors} reads and writes safetensors (the Hugging Face / PyTorch
 * format), {@link dev.fluxion.nn.io.TrainingCheckpoint} stores a whole training state in one checksummed
 * safetensors file, {@link dev.fluxion.nn.io.CheckpointDir} keeps a run's latest and previous checkpoints.
 * Every write is atomic; every read validates the file before it creates a tensor.
 */
package dev.fluxion.nn.io;
