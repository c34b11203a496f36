using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Qwen3;

/// <summary>
/// Position ids and additive attention masks for left-padded batches, with HF's conventions: positions count only
/// real tokens (pads get 1), and disallowed keys get the dtype's most negative finite value, not -inf, so a pad
/// query whose every key is masked still yields finite (ignored) outputs instead of NaN.
/// </summary>
public static class AttentionMasks
{
    /// <summary>Positions [N, T] for a left-padded prompt with validity mask [N, T] (bool).</summary>
    public static Tensor PrefillPositions(Tensor valid)
    {
        using var scope = NewDisposeScope();
        var pos = valid.to_type(ScalarType.Int64).cumsum(1) - 1;
        return pos.masked_fill(valid.logical_not(), 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Mask [N, 1, T, S] for T new queries occupying cache slots [S - T, S), over keys whose validity is
    /// <paramref name="keyValid"/> [N, S]: key j is visible to query i when valid and j ≤ S - T + i.
    /// </summary>
    public static Tensor Build(Tensor keyValid, long queries, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        long s = keyValid.shape[1];
        var device = keyValid.device;
        var qPos = torch.arange(s - queries, s, dtype: ScalarType.Int64, device: device).unsqueeze(1); // [T, 1]
        var kPos = torch.arange(0, s, dtype: ScalarType.Int64, device: device).unsqueeze(0);           // [1, S]
        var causal = kPos.le(qPos);                                                                     // [T, S]
        var allowed = causal.unsqueeze(0).logical_and(keyValid.unsqueeze(1)).unsqueeze(1);            // [N, 1, T, S]
        var zero = torch.zeros(1, dtype, device);
        var min = torch.full(1, torch.finfo(dtype).min, dtype, device);
        return torch.where(allowed, zero, min).MoveToOuterDisposeScope();
    }
}
