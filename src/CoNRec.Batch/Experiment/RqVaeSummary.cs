using System.Globalization;
using CoNRec.Model.RqVae;

namespace CoNRec.Batch.Experiment;

/// <summary>The RQ-VAE figures a report carries (held-out reconstruction cosine, utilisation, collisions, the held-out curve that chose the epoch).</summary>
public sealed record RqVaeSummary(int Levels, int CodesPerLevel, int LatentDim, double TrainMse, double TrainCosine, int HeldOutItems,
    double HeldOutMse, double HeldOutCosine, IReadOnlyList<double> Utilisation, double CollisionRate, IReadOnlyList<double> LossCurve, string Line)
{
    public IReadOnlyList<double> HeldOutLossCurve { get; init; } = [];
    /// <summary>1-based epoch whose parameters were exported (best held-out loss), of <see cref="Epochs"/> run.</summary>
    public int BestEpoch { get; init; }
    public int Epochs { get; init; }

    public static RqVaeSummary Of(RqVaeResult r)
    {
        var inv = CultureInfo.InvariantCulture;
        string stop = r.StoppedEarly ? $"stopped at epoch {r.LossCurve.Length} of {r.Options.Epochs}" : $"{r.LossCurve.Length} epochs";
        string line = string.Format(inv, "held-out reconstruction cosine {0:F3} (train {1:F3}), utilisation per level [{2}], collision rate {3:P1}; best held-out epoch {4} ({5})",
            r.HeldOut.MeanCosine, r.Train.MeanCosine, string.Join(", ", r.Utilisation.Select(u => u.ToString("P0", inv))), r.CollisionRate, r.BestEpoch + 1, stop);
        return new RqVaeSummary(r.Options.Levels, r.Options.CodesPerLevel, r.Options.LatentDim, r.Train.Mse, r.Train.MeanCosine, r.HeldOut.Count,
            r.HeldOut.Mse, r.HeldOut.MeanCosine, r.Utilisation, r.CollisionRate, r.LossCurve, line)
        { HeldOutLossCurve = r.HeldOutLossCurve, BestEpoch = r.BestEpoch + 1, Epochs = r.LossCurve.Length };
    }
}
