using static TorchSharp.torch;

namespace CoNRec.Model.RqVae;

/// <summary>
/// One forward pass. <see cref="Codes"/> [B, L] int64; <see cref="Reconstruction"/> x̂ [B, in];
/// <see cref="Quantized"/> X̂ = Σ_d Z⁽ᵈ⁾ [B, d]; the losses are scalars averaged over the batch.
/// </summary>
public sealed record RqVaeOutput(Tensor Reconstruction, Tensor Quantized, Tensor Codes, Tensor Loss, Tensor ReconstructionLoss, Tensor QuantizationLoss)
    : IDisposable
{
    public void Dispose()
    {
        Reconstruction.Dispose();
        Quantized.Dispose();
        Codes.Dispose();
        Loss.Dispose();
        ReconstructionLoss.Dispose();
        QuantizationLoss.Dispose();
    }
}
