using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.Lora;

/// <summary>
/// The low-rank update of one frozen projection: ΔW·x = B(A(dropout(x)))·scale, with PEFT's initialisation (A
/// Kaiming-uniform with a = √5, B zeros, so training starts from the base model exactly). Held beside the base
/// Linear rather than wrapping it, so the base weights keep their Hugging Face names in the checkpoint.
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // PEFT's weight names
    private readonly Linear lora_A;
    private readonly Linear lora_B;
#pragma warning restore IDE1006
    private readonly Dropout? _dropout;

    public double Scale { get; }
    public Tensor A => lora_A.weight!;
    public Tensor B => lora_B.weight!;

    /// <summary>An adapter shaped for <paramref name="projection"/> (W is [out, in]), on its dtype and device.</summary>
    public static LoraLinear Beside(Linear projection, LoraSettings settings, Generator? generator)
    {
        var w = projection.weight!;
        var adapter = new LoraLinear(w.shape[1], w.shape[0], settings, generator);
        adapter.to(w.dtype).to(w.device);
        return adapter;
    }

    public LoraLinear(long inFeatures, long outFeatures, LoraSettings settings, Generator? generator = null) : base(nameof(LoraLinear))
    {
        lora_A = nn.Linear(inFeatures, settings.Rank, hasBias: false);
        lora_B = nn.Linear(settings.Rank, outFeatures, hasBias: false);
        Scale = settings.Scale;
        if (settings.Dropout > 0) _dropout = nn.Dropout(settings.Dropout);
        using (torch.no_grad())
        {
            // kaiming_uniform_(a=√5) on a [r, in] weight: bound = √(6 / ((1 + a²)·fan_in)) = 1/√fan_in.
            double bound = 1.0 / Math.Sqrt(inFeatures);
            lora_A.weight!.uniform_(-bound, bound, generator);
            lora_B.weight!.zero_();
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = _dropout is not null && training ? _dropout.forward(x) : x;
        return (lora_B.forward(lora_A.forward(h)) * Scale).MoveToOuterDisposeScope();
    }
}
