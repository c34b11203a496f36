using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.RqVae;

/// <summary>MLP latent → x̂, the encoder's mirror: Linear layers <c>decoder.layers.{i}</c>, ReLU between, none after the last.</summary>
public sealed class RqVaeDecoder : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field name is the weight-name prefix
    private readonly ModuleList<Linear> layers = new();
#pragma warning restore IDE1006

    /// <param name="widths">latent, hidden..., output</param>
    public RqVaeDecoder(IReadOnlyList<int> widths, Random rng) : base(nameof(RqVaeDecoder))
    {
        for (int i = 0; i + 1 < widths.Count; i++) layers.Add(RqVaeInit.Linear(widths[i], widths[i + 1], rng));
        RegisterComponents();
    }

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
