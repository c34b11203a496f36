using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.Qwen3;

/// <summary>RMSNorm as HF computes it: the statistics in float32, the weight applied after casting back.</summary>
public sealed class Qwen3RMSNorm : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the HF weight names
    private readonly Parameter weight;
#pragma warning restore IDE1006
    private readonly double _eps;

    public Qwen3RMSNorm(long dim, double eps) : base(nameof(Qwen3RMSNorm))
    {
        weight = nn.Parameter(torch.ones(dim));
        _eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var dtype = x.dtype;
        var h = x.to_type(ScalarType.Float32);
        var variance = h.pow(2).mean([-1], keepdim: true);
        h = h * torch.rsqrt(variance + _eps);
        return (weight * h.to_type(dtype)).MoveToOuterDisposeScope();
    }
}
