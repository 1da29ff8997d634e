/**
 * LoRA and QLoRA adapters, as Hugging Face PEFT and bitsandbytes make them: {@link dev.fluxion.nn.lora.Lora}
 * wraps a model's target layers in place ({@link dev.fluxion.nn.lora.LoraLinear},
 * {@link dev.fluxion.nn.lora.LoraEmbedding}) and freezes the rest; {@link dev.fluxion.nn.lora.Nf4Weight} and
 * {@link dev.fluxion.nn.lora.Nf4Linear} keep a frozen base in 4-bit NF4 (bit-exact with bitsandbytes, double
 * quantization included); {@link dev.fluxion.nn.lora.AdapterFiles} saves and loads an adapter as
 * adapter_model.safetensors and adapter_config.json with PEFT's names.
 */
package dev.fluxion.nn.lora;
