using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.SasRec;

/// <summary>
/// Item and position embeddings, causal self-attention blocks, a final layer norm; the next-item scores are the
/// hidden state's dot product with every item embedding (shared input/output embedding, as SASRec). Item 0 is padding.
/// </summary>
public sealed class SasRecModel : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly Embedding item_emb;
    private readonly Embedding pos_emb;
    private readonly TransformerEncoder encoder;
    private readonly LayerNorm last_norm;
    private readonly Dropout emb_dropout;
#pragma warning restore IDE1006
    private readonly int _maxLength;

    public SasRecModel(int items, SasRecOptions o) : base(nameof(SasRecModel))
    {
        _maxLength = o.MaxLength;
        item_emb = nn.Embedding(items + 1, o.Dimension, padding_idx: 0);
        pos_emb = nn.Embedding(o.MaxLength, o.Dimension);
        var layer = nn.TransformerEncoderLayer(o.Dimension, o.Heads, o.Dimension, o.Dropout);
        encoder = nn.TransformerEncoder(layer, o.Blocks);
        last_norm = nn.LayerNorm(o.Dimension);
        emb_dropout = nn.Dropout(o.Dropout);
        RegisterComponents();
    }

    public Tensor ItemEmbeddings => item_emb.weight!;

    /// <summary>Hidden states [N, T, d] of left-padded item sequences [N, T] (T ≤ MaxLength).</summary>
    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        long n = ids.shape[0], t = ids.shape[1];
        var positions = torch.arange(_maxLength - t, _maxLength, dtype: ScalarType.Int64, device: ids.device).unsqueeze(0).expand(n, t);
        var h = emb_dropout.forward(item_emb.forward(ids) * Math.Sqrt(item_emb.weight!.shape[1]) + pos_emb.forward(positions));
        // Causal: position i sees positions ≤ i. Left padding keeps every row with at least one visible key (itself).
        var causal = torch.triu(torch.full([t, t], float.NegativeInfinity, device: ids.device), diagonal: 1);
        var o = encoder.forward(h.transpose(0, 1), causal, null).transpose(0, 1);
        return last_norm.forward(o).MoveToOuterDisposeScope();
    }
}
