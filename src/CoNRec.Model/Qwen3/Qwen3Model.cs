using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.Qwen3;

/// <summary>Embeddings, the decoder stack and the final norm (HF prefix <c>model.</c>).</summary>
public sealed class Qwen3Model : nn.Module
{
#pragma warning disable IDE1006 // field names are the HF weight names
    private readonly Embedding embed_tokens;
    private readonly ModuleList<Qwen3DecoderLayer> layers;
    private readonly Qwen3RMSNorm norm;
    private readonly Qwen3RotaryEmbedding rotary_emb;
#pragma warning restore IDE1006

    public Qwen3Model(Qwen3Config config) : base(nameof(Qwen3Model))
    {
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<Qwen3DecoderLayer>();
        for (int i = 0; i < config.NumHiddenLayers; i++) layers.Add(new Qwen3DecoderLayer(config, i));
        norm = new Qwen3RMSNorm(config.HiddenSize, config.RmsNormEps);
        rotary_emb = new Qwen3RotaryEmbedding(config.HeadDim, config.RopeTheta);
        RegisterComponents();
    }

    public Tensor EmbeddingWeight => embed_tokens.weight!;
    public IReadOnlyList<Qwen3DecoderLayer> Layers => [.. layers];

    /// <summary>Runs the stack; returns the normed hidden states [N, T, hidden].</summary>
    /// <param name="inputIds">[N, T] token ids</param>
    /// <param name="positionIds">[N, T] rotary positions (left padding makes them per-row)</param>
    /// <param name="mask">additive attention mask [N, 1, T, S]</param>
    public Tensor Forward(Tensor inputIds, Tensor positionIds, Tensor mask, KVCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = embed_tokens.forward(inputIds);
        var (cos, sin) = rotary_emb.Forward(positionIds, h.dtype);
        foreach (var layer in layers) h = layer.Forward(h, cos, sin, mask, cache);
        cache?.Advance(inputIds.shape[1]);
        return norm.forward(h).MoveToOuterDisposeScope();
    }
}
