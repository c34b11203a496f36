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
    private readonly Dictionary<string, Lora.LoraLinear> _lora = new(StringComparer.Ordinal);

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
        var q = q_norm.forward(Project("q_proj", q_proj, x).view(n, t, _heads, _headDim)).transpose(1, 2);
        var k = k_norm.forward(Project("k_proj", k_proj, x).view(n, t, _kvHeads, _headDim)).transpose(1, 2);
        var v = Project("v_proj", v_proj, x).view(n, t, _kvHeads, _headDim).transpose(1, 2);
        q = Qwen3RotaryEmbedding.Apply(q, cos, sin);
        k = Qwen3RotaryEmbedding.Apply(k, cos, sin);
        if (cache is { IsShared: true }) return Project("o_proj", o_proj, SharedPrefixAttention(q, k, v, mask, cache)).MoveToOuterDisposeScope();
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
        return Project("o_proj", o_proj, o).MoveToOuterDisposeScope();
    }

    private Tensor Project(string name, Linear projection, Tensor x) =>
        _lora.Count > 0 && _lora.TryGetValue(name, out var lora) ? projection.forward(x) + lora.forward(x) : projection.forward(x);

    /// <summary>Adds LoRA beside each targeted projection (registered as <c>{name}_lora</c>); returns (module name, adapter).</summary>
    public IEnumerable<(string Module, Lora.LoraLinear Adapter)> AttachLora(Lora.LoraSettings settings, Generator? generator)
    {
        foreach (var (name, projection) in new[] { ("q_proj", q_proj), ("k_proj", k_proj), ("v_proj", v_proj), ("o_proj", o_proj) })
        {
            if (!settings.Targets(name)) continue;
            var adapter = Lora.LoraLinear.Beside(projection, settings, generator);
            register_module(name + "_lora", adapter);
            _lora[name] = adapter;
            yield return (name, adapter);
        }
    }

    /// <summary>
    /// One decode step for B beams per prompt against a shared prompt cache. The B·g query heads of a user that
    /// share a KV head attend to that head's prompt keys in one matmul (the beams act as extra query positions), and
    /// to their own generated keys separately; one softmax spans both parts, so the result equals ordinary
    /// attention over [prompt, generated] exactly, without B copies of the prompt.
    /// </summary>
    /// <param name="q">[N·B, H, 1, D]</param>
    /// <param name="k">[N·B, kv, 1, D]</param>
    /// <param name="v">[N·B, kv, 1, D]</param>
    /// <param name="prefixMask">additive [N, 1, 1, P] (padding of the prompt)</param>
    private Tensor SharedPrefixAttention(Tensor q, Tensor k, Tensor v, Tensor prefixMask, KVCache cache)
    {
        var (pk, pv, sk, sv) = cache.AppendSuffix(_layer, k, v);
        int g = _heads / _kvHeads, b = cache.Beams, d = _headDim;
        long n = pk.shape[0], p = pk.shape[2], s = sk.shape[2];
        double scale = 1.0 / Math.Sqrt(d);
        var dtype = q.dtype;
        // Queries grouped by KV head: [N, kv, B·g, D] (row order beam-major, then the g heads of the group).
        var qg = q.view(n, b, _kvHeads, g, d).permute(0, 2, 1, 3, 4).reshape(n, _kvHeads, (long)b * g, d);
        var prefixScores = torch.matmul(qg, pk.transpose(2, 3)).to_type(ScalarType.Float32) * scale + prefixMask.to_type(ScalarType.Float32); // [N, kv, B·g, P]
        var qb = q.view(n * b, _kvHeads, g, d);
        var suffixScores = torch.matmul(qb, sk.transpose(2, 3)).to_type(ScalarType.Float32) * scale;                                          // [N·B, kv, g, s]
        suffixScores = suffixScores.view(n, b, _kvHeads, g, s).permute(0, 2, 1, 3, 4).reshape(n, _kvHeads, (long)b * g, s);
        var probs = torch.cat([prefixScores, suffixScores], -1).softmax(-1).to_type(dtype);
        var outPrefix = torch.matmul(probs.narrow(-1, 0, p), pv);                                                                            // [N, kv, B·g, D]
        var ps = probs.narrow(-1, p, s).reshape(n, _kvHeads, b, g, s).permute(0, 2, 1, 3, 4).reshape(n * b, _kvHeads, g, s);
        var outSuffix = torch.matmul(ps, sv).view(n, b, _kvHeads, g, d).permute(0, 2, 1, 3, 4).reshape(n, _kvHeads, (long)b * g, d);
        var o = (outPrefix + outSuffix).view(n, _kvHeads, b, g, d).permute(0, 2, 1, 3, 4).reshape(n * b, 1, _heads * d);
        return o;
    }
}
