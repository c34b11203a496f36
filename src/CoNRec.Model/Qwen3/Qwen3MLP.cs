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
    private readonly Dictionary<string, Lora.LoraLinear> _lora = new(StringComparer.Ordinal);

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
        return Project("down_proj", down_proj, nn.functional.silu(Project("gate_proj", gate_proj, x)) * Project("up_proj", up_proj, x)).MoveToOuterDisposeScope();
    }

    private Tensor Project(string name, Linear projection, Tensor x) =>
        _lora.Count > 0 && _lora.TryGetValue(name, out var lora) ? projection.forward(x) + lora.forward(x) : projection.forward(x);

    public IEnumerable<(string Module, Lora.LoraLinear Adapter)> AttachLora(Lora.LoraSettings settings, Generator? generator)
    {
        foreach (var (name, projection) in new[] { ("gate_proj", gate_proj), ("up_proj", up_proj), ("down_proj", down_proj) })
        {
            if (!settings.Targets(name)) continue;
            var adapter = Lora.LoraLinear.Beside(projection, settings, generator);
            register_module(name + "_lora", adapter);
            _lora[name] = adapter;
            yield return (name, adapter);
        }
    }
}
