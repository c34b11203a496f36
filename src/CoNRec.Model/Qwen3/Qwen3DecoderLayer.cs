using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Qwen3;

/// <summary>Pre-norm residual block: x + attn(norm(x)), then h + mlp(norm(h)).</summary>
public sealed class Qwen3DecoderLayer : nn.Module
{
#pragma warning disable IDE1006 // field names are the HF weight names
    private readonly Qwen3Attention self_attn;
    private readonly Qwen3MLP mlp;
    private readonly Qwen3RMSNorm input_layernorm;
    private readonly Qwen3RMSNorm post_attention_layernorm;
#pragma warning restore IDE1006

    public Qwen3DecoderLayer(Qwen3Config config, int layer) : base(nameof(Qwen3DecoderLayer))
    {
        self_attn = new Qwen3Attention(config, layer);
        mlp = new Qwen3MLP(config);
        input_layernorm = new Qwen3RMSNorm(config.HiddenSize, config.RmsNormEps);
        post_attention_layernorm = new Qwen3RMSNorm(config.HiddenSize, config.RmsNormEps);
        RegisterComponents();
    }

    public Qwen3Attention SelfAttention => self_attn;
    public Qwen3MLP Mlp => mlp;

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor mask, KVCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache);
        return (h + mlp.forward(post_attention_layernorm.forward(h))).MoveToOuterDisposeScope();
    }
}
