using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.RqVae;

/// <summary>
/// MLP x → latent: Linear layers named <c>layers.{i}</c> (so the state dict reads <c>encoder.layers.0.weight</c>, the
/// names Core's <see cref="CoNRec.Core.CodebookEncoder"/> reads back), ReLU between layers, none after the last.
/// </summary>
public sealed class RqVaeEncoder : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field name is the weight-name prefix
    private readonly ModuleList<Linear> layers = new();
#pragma warning restore IDE1006

    /// <param name="widths">input, hidden..., latent</param>
    public RqVaeEncoder(IReadOnlyList<int> widths, Random rng) : base(nameof(RqVaeEncoder))
    {
        for (int i = 0; i + 1 < widths.Count; i++) layers.Add(RqVaeInit.Linear(widths[i], widths[i + 1], rng));
        RegisterComponents();
    }

    public IReadOnlyList<Linear> Layers => [.. layers];

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        for (int i = 0; i < layers.Count; i++)
        {
            x = layers[i].forward(x);
            if (i < layers.Count - 1) x = nn.functional.relu(x);
        }
        return x.MoveToOuterDisposeScope();
    }
}
