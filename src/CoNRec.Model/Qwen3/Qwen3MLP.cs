using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.Qwen3;

/// <summary>SwiGLU: down(silu(gate(x)) * up(x)).</summary>
public sealed class Qwen3MLP : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the HF weight names
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;
#pragma warning restore IDE1006

    public Qwen3MLP(Qwen3Config config) : base(nameof(Qwen3MLP))
    {
        gate_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: false);
        up_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: false);
        down_proj = nn.Linear(config.IntermediateSize, config.HiddenSize, hasBias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return down_proj.forward(nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x)).MoveToOuterDisposeScope();
    }
}
