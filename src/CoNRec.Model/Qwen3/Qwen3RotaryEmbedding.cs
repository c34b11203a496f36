using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Qwen3;

/// <summary>
/// Half-split rotary embeddings (rotate_half over [x1 | x2]), as HF's Llama/Qwen family: cos/sin are computed in
/// float32 from per-token position ids (left padding shifts them) and cast to the activation dtype afterwards.
/// </summary>
public sealed class Qwen3RotaryEmbedding : nn.Module
{
    private readonly Tensor _invFreq;

    public Qwen3RotaryEmbedding(int headDim, double theta) : base(nameof(Qwen3RotaryEmbedding))
    {
        var exponents = torch.arange(0, headDim, 2, dtype: ScalarType.Int64).to_type(ScalarType.Float32) / headDim;
        _invFreq = 1.0f / torch.pow(torch.tensor((float)theta), exponents);
        register_buffer("inv_freq", _invFreq, persistent: false);
    }

    /// <summary>Returns (cos, sin), each [N, T, headDim], for position ids [N, T].</summary>
    public (Tensor Cos, Tensor Sin) Forward(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var invFreq = _invFreq.to(positionIds.device);
        var freqs = positionIds.to_type(ScalarType.Float32).unsqueeze(-1) * invFreq; // [N, T, D/2]
        var emb = torch.cat([freqs, freqs], -1);
        return (emb.cos().to_type(dtype).MoveToOuterDisposeScope(), emb.sin().to_type(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>Applies the rotation to q or k shaped [N, heads, T, D] with cos/sin [N, T, D].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var c = cos.unsqueeze(1);
        var s = sin.unsqueeze(1);
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        var rotated = torch.cat([-x2, x1], -1);
        return (x * c + rotated * s).MoveToOuterDisposeScope();
    }
}
