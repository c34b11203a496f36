using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.Qwen3;

/// <summary>
/// Grouped-query attention with Qwen3's per-head RMSNorm on q and k, applied before RoPE (the difference from Qwen2).
/// </summary>
public sealed class Qwen3Attention : nn.Module
{
#pragma warning disable IDE1006 // field names are the HF weight names
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly Qwen3RMSNorm q_norm;
    private readonly Qwen3RMSNorm k_norm;
#pragma warning restore IDE1006
    private readonly int _heads, _kvHeads, _headDim, _layer;

    public Qwen3Attention(Qwen3Config config, int layer) : base(nameof(Qwen3Attention))
    {
        _heads = config.NumAttentionHeads;
        _kvHeads = config.NumKeyValueHeads;
        _headDim = config.HeadDim;
        _layer = layer;
        q_proj = nn.Linear(config.HiddenSize, _heads * _headDim, hasBias: config.AttentionBias);
        k_proj = nn.Linear(config.HiddenSize, _kvHeads * _headDim, hasBias: config.AttentionBias);
        v_proj = nn.Linear(config.HiddenSize, _kvHeads * _headDim, hasBias: config.AttentionBias);
        o_proj = nn.Linear(_heads * _headDim, config.HiddenSize, hasBias: config.AttentionBias);
        q_norm = new Qwen3RMSNorm(_headDim, config.RmsNormEps);
        k_norm = new Qwen3RMSNorm(_headDim, config.RmsNormEps);
        RegisterComponents();
    }

    /// <param name="x">[N, T, hidden]</param>
    /// <param name="cos">[N, T, headDim]</param>
    /// <param name="sin">[N, T, headDim]</param>
    /// <param name="mask">additive [N, 1, T, S] where S is the key length (cache included)</param>
    /// <param name="cache">when given, this step's keys/values are appended and attention runs over the whole cache</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor mask, KVCache? cache)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], t = x.shape[1];
        var q = q_norm.forward(q_proj.forward(x).view(n, t, _heads, _headDim)).transpose(1, 2);
        var k = k_norm.forward(k_proj.forward(x).view(n, t, _kvHeads, _headDim)).transpose(1, 2);
        var v = v_proj.forward(x).view(n, t, _kvHeads, _headDim).transpose(1, 2);
        q = Qwen3RotaryEmbedding.Apply(q, cos, sin);
        k = Qwen3RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null) (k, v) = cache.Append(_layer, k, v);
        int groups = _heads / _kvHeads;
        if (groups > 1)
        {
            // TorchSharp's SDPA has no enable_gqa; repeat each KV head for its group of query heads.
            k = k.repeat_interleave(groups, dim: 1);
            v = v.repeat_interleave(groups, dim: 1);
        }
        var o = nn.functional.scaled_dot_product_attention(q, k, v, mask); // scale 1/sqrt(head_dim), as HF
        o = o.transpose(1, 2).reshape(n, t, _heads * _headDim);
        return o_proj.forward(o).MoveToOuterDisposeScope();
    }
}
