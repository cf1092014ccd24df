import math

import torch

from hfl_ros.model.attention import MapAttention


def _reference(layer, query_map, key_map, heads):
    """Attention written out per head with explicit loops over heads."""
    b, c, h, w = query_map.shape
    d = c // heads
    q = layer.encode_query(query_map).flatten(2).transpose(1, 2)
    k = layer.encode_key(key_map).flatten(2).transpose(1, 2)
    v = layer.encode_value(key_map).flatten(2).transpose(1, 2)
    outs = []
    for i in range(heads):
        sl = slice(i * d, (i + 1) * d)
        weights = torch.softmax(q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(d), dim=-1)
        outs.append(weights @ v[..., sl])
    x = query_map.flatten(2).transpose(1, 2) + torch.cat(outs, dim=-1)
    x = x + layer.mlp.fc2(torch.nn.functional.gelu(layer.mlp.fc1(layer.norm(x))))
    return x.transpose(1, 2).reshape(b, c, h, w)


def test_matches_per_head_reference():
    torch.manual_seed(0)
    block = MapAttention(dim=32, num_heads=4).eval()
    query, key = torch.randn(2, 32, 8, 8), torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        out = block(query, key)
        expected = _reference(block.layers[0], query, key, 4)
    assert out.shape == query.shape
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_output_depends_on_key_map():
    torch.manual_seed(1)
    block = MapAttention(dim=16, num_heads=4).eval()
    query = torch.randn(1, 16, 4, 4)
    with torch.no_grad():
        a = block(query, torch.randn(1, 16, 4, 4))
        b = block(query, torch.randn(1, 16, 4, 4))
    assert not torch.allclose(a, b)


def test_attention_runs_the_fused_cpu_kernel_not_the_unfused_softmax():
    """Heads handed to scaled_dot_product_attention with a strided last dimension make it fall back to the
    math path (an explicit softmax over the (B, heads, N, N) weights), 6 % of HFL-Net's forward on a CPU."""
    torch.manual_seed(2)
    block = MapAttention(dim=64, num_heads=4).eval()
    query = torch.randn(1, 64, 16, 16)
    with torch.inference_mode(), torch.profiler.profile() as profile:
        block(query, query)
    ops = {event.key for event in profile.key_averages()}
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in ops, sorted(ops)
    assert "aten::_softmax" not in ops, sorted(ops)
