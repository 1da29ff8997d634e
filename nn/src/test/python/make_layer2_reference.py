#!/usr/bin/env python3
"""Reference outputs and gradients, computed by PyTorch, of the layers added for issue 15 (convolutions
with every option, pooling with padding and ties, normalization, attention, recurrent layers).

Regenerate (Debian's python3-torch; the pyenv python3 on PATH has no torch):
    /usr/bin/python3 nn/src/test/python/make_layer2_reference.py

Writes nn/src/test/resources/reference/layers2.safetensors in the format of make_layer_reference.py
(same names: NAME.param.<p>, NAME.input, NAME.r, NAME.output, NAME.grad.input, NAME.grad.<p>), plus
NAME.buffer.<b> for buffers after the forward (running statistics) and NAME.extra.<k> for extra inputs.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from make_layer_reference import perturb, write_safetensors  # noqa: E402

torch.manual_seed(11)
OUT = os.path.join(os.path.dirname(__file__), "..", "resources", "reference", "layers2.safetensors")


def case(out, name, module, x, train=True, perturb_params=True, extra=None):
    """Runs module(x) (in train or eval mode), loss = sum(y * r), stores inputs, outputs, grads, buffers."""
    if perturb_params:
        perturb(module)
    for bname, b in module.named_buffers():          # store buffers as they were before the forward
        out[name + ".buffer0." + bname] = b.clone()
    module.train(train)
    x = x.clone()
    if x.is_floating_point():
        x.requires_grad_()
    y = module(x) if extra is None else module(x, *extra)
    if isinstance(y, tuple):
        y = y[0]
    r = torch.randn_like(y)
    (y * r).sum().backward()
    out[name + ".input"] = x
    out[name + ".r"] = r
    out[name + ".output"] = y
    if x.is_floating_point():
        out[name + ".grad.input"] = x.grad
    for pname, p in module.named_parameters():
        out[name + ".param." + pname] = p
        out[name + ".grad." + pname] = p.grad
    for bname, b in module.named_buffers():
        out[name + ".buffer." + bname] = b.clone()


def ties(*shape):
    """Values from {0, 1, 2}: most pooling windows hold several equal maxima."""
    return torch.randint(0, 3, shape).float()


def with_stats(bn, tracked=3):
    """Non-trivial running statistics, so that their update and their use in eval are both visible."""
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(bn.num_features))
        bn.running_var.copy_(torch.rand(bn.num_features) + 0.5)
        bn.num_batches_tracked.fill_(tracked)
    return bn


def mha_case(out, name, mha, query, key, value, kpm=None, mask=None, average=True):
    """MultiheadAttention with separate query, key, value; loss = sum(out * r) + sum(weights * r2)."""
    perturb(mha)
    q, k, v = (t.clone().requires_grad_() for t in (query, key, value))
    y, w = mha(q, k, v, key_padding_mask=kpm, need_weights=True, attn_mask=mask, average_attn_weights=average)
    r, r2 = torch.randn_like(y), torch.randn_like(w)
    ((y * r).sum() + (w * r2).sum()).backward()
    for key_name, t in (("query", q), ("key", k), ("value", v)):
        out[name + "." + key_name] = t
        out[name + ".grad." + key_name] = t.grad
    for key_name, t in (("kpm", kpm), ("mask", mask)):   # bool masks as int64 (the writer has no bool): NAME.kpm_bool
        if t is not None:
            out[name + "." + key_name + ("_bool" if t.dtype == torch.bool else "")] = t.long() if t.dtype == torch.bool else t
    out[name + ".output"], out[name + ".weights"], out[name + ".r"], out[name + ".r2"] = y, w, r, r2
    for pname, p in mha.named_parameters():
        out[name + ".param." + pname] = p
        out[name + ".grad." + pname] = p.grad


def rnn_case(out, name, rnn, x, states):
    """LSTM/GRU: loss = sum(output * r) + sum(state_n * r_state) over h_n (and c_n); states None = zeros."""
    perturb(rnn)
    x = x.clone().requires_grad_()
    states = [s.clone().requires_grad_() for s in states]
    init = None if not states else (states[0] if len(states) == 1 else tuple(states))
    y, fin = rnn(x, init)
    fin = list(fin) if isinstance(fin, tuple) else [fin]
    loss = (y * (r := torch.randn_like(y))).sum()
    out[name + ".r"], out[name + ".output"], out[name + ".input"] = r, y, x
    for i, f in enumerate(fin):
        rf = torch.randn_like(f)
        loss = loss + (f * rf).sum()
        out[name + ".r_state%d" % i], out[name + ".state%d" % i] = rf, f
    loss.backward()
    out[name + ".grad.input"] = x.grad
    for i, s0 in enumerate(states):
        out[name + ".init%d" % i], out[name + ".grad.init%d" % i] = s0, s0.grad
    for pname, p in rnn.named_parameters():
        out[name + ".param." + pname] = p
        out[name + ".grad." + pname] = p.grad


def main():
    out = {}
    case(out, "conv2d_rect_groups", nn.Conv2d(4, 6, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2), torch.randn(2, 4, 7, 9))
    case(out, "conv2d_same_even", nn.Conv2d(3, 4, 4, padding="same", dilation=2), torch.randn(2, 3, 6, 7))
    case(out, "conv2d_depthwise_nobias", nn.Conv2d(4, 4, 3, groups=4, bias=False, padding="valid"), torch.randn(1, 4, 5, 6))
    case(out, "conv1d", nn.Conv1d(3, 4, 3, stride=2, padding=1), torch.randn(2, 3, 9))
    case(out, "conv1d_same", nn.Conv1d(2, 4, 4, padding="same"), torch.randn(2, 2, 8))
    case(out, "conv2d_reflect", nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), torch.randn(2, 2, 5, 6))
    case(out, "conv2d_circular_rect", nn.Conv2d(2, 2, (3, 2), padding=(1, 2), padding_mode="circular"), torch.randn(1, 2, 4, 5))
    case(out, "conv1d_same_replicate", nn.Conv1d(2, 3, 4, padding="same", padding_mode="replicate"), torch.randn(2, 2, 7))
    case(out, "maxpool2d_ties", nn.MaxPool2d(2, 2), ties(2, 3, 6, 6))
    case(out, "maxpool2d_pad_ties", nn.MaxPool2d(3, 2, padding=1), ties(1, 2, 7, 7))
    case(out, "maxpool2d_dilated", nn.MaxPool2d(3, 1, padding=1, dilation=2), torch.randn(1, 2, 8, 8))
    case(out, "avgpool2d_pad", nn.AvgPool2d(3, 2, padding=1), torch.randn(1, 2, 7, 7))
    case(out, "convtranspose2d", nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=1, groups=2), torch.randn(2, 4, 4, 5))
    case(out, "convtranspose2d_dilated", nn.ConvTranspose2d(3, 2, 3, stride=1, padding=2, dilation=2, bias=False), torch.randn(1, 3, 5, 5))
    case(out, "batchnorm2d", with_stats(nn.BatchNorm2d(3)), torch.randn(4, 3, 2, 3) * 2 + 1)
    case(out, "batchnorm2d_eval", with_stats(nn.BatchNorm2d(3)), torch.randn(2, 3, 2, 2), train=False)
    case(out, "batchnorm1d_cumulative", with_stats(nn.BatchNorm1d(4, momentum=None)), torch.randn(5, 4))
    case(out, "batchnorm1d_3d_noaffine", with_stats(nn.BatchNorm1d(3, affine=False, eps=1e-3)), torch.randn(2, 3, 4))
    case(out, "batchnorm2d_untracked_eval", nn.BatchNorm2d(2, track_running_stats=False), torch.randn(2, 2, 3, 3), train=False)
    case(out, "groupnorm", nn.GroupNorm(2, 6), torch.randn(2, 6, 3, 4))
    case(out, "layernorm_2d", nn.LayerNorm((4, 5)), torch.randn(2, 3, 4, 5))
    case(out, "layernorm_noaffine", nn.LayerNorm((3, 4), elementwise_affine=False), torch.randn(2, 3, 4))
    case(out, "identity", nn.Identity(), torch.randn(2, 3))
    case(out, "adaptive_avgpool2d", nn.AdaptiveAvgPool2d((3, 4)), torch.randn(2, 2, 7, 10))
    case(out, "adaptive_avgpool2d_up", nn.AdaptiveAvgPool2d((5, 1)), torch.randn(1, 2, 3, 6))
    case(out, "upsample_scale", nn.Upsample(scale_factor=2), torch.randn(1, 2, 3, 4))
    case(out, "upsample_size", nn.Upsample(size=(5, 7)), torch.randn(1, 2, 3, 4))
    case(out, "upsample_1d", nn.Upsample(scale_factor=1.5), torch.randn(1, 2, 5))
    x = torch.randn(2, 4, 8)
    mha_case(out, "mha_self_padding", nn.MultiheadAttention(8, 2, batch_first=True), x, x, x,
             kpm=torch.tensor([[False, False, False, True], [False, False, False, False]]))
    mha_case(out, "mha_cross_float_mask", nn.MultiheadAttention(8, 2), torch.randn(3, 2, 8), torch.randn(5, 2, 8), torch.randn(5, 2, 8),
             mask=torch.randn(3, 5), average=False)
    mha_case(out, "mha_causal", nn.MultiheadAttention(8, 4, batch_first=True, bias=False), x, x, x,
             mask=torch.ones(4, 4, dtype=torch.bool).triu(1))
    mha_case(out, "mha_mask3d", nn.MultiheadAttention(8, 2, batch_first=True), x, x, x,
             mask=torch.rand(4, 4, 4) < 0.3, kpm=torch.tensor([[False, True, False, False], [False, False, False, False]]))
    # a float key padding mask is added to the scores (torch 1.13 would OR it into a bool attn_mask, so alone here)
    mha_case(out, "mha_float_kpm", nn.MultiheadAttention(8, 2, batch_first=True), x, x, x, kpm=torch.randn(2, 4))
    rnn_case(out, "lstm_2layer_bidir", nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True), torch.randn(2, 5, 3),
             [torch.randn(4, 2, 4), torch.randn(4, 2, 4)])
    rnn_case(out, "lstm_unbatched_nobias", nn.LSTM(3, 5, bias=False), torch.randn(4, 3), [])
    rnn_case(out, "gru", nn.GRU(3, 4), torch.randn(5, 2, 3), [])
    rnn_case(out, "gru_2layer_bidir", nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True), torch.randn(2, 4, 3), [torch.randn(4, 2, 4)])
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, out)
    print("wrote", os.path.normpath(OUT), len(out), "tensors")


if __name__ == "__main__":
    main()
