using System.Globalization;
using CoNRec.Model.RqVae;

namespace CoNRec.Batch.Experiment;

/// <summary>The RQ-VAE figures a report carries (the targets: held-out reconstruction cosine, utilisation, collisions).</summary>
public sealed record RqVaeSummary(int Levels, int CodesPerLevel, int LatentDim, double TrainMse, double TrainCosine, int HeldOutItems,
    double HeldOutMse, double HeldOutCosine, IReadOnlyList<double> Utilisation, double CollisionRate, IReadOnlyList<double> LossCurve, string Line)
{
    public static RqVaeSummary Of(RqVaeResult r)
    {
        var inv = CultureInfo.InvariantCulture;
        string line = string.Format(inv, "held-out reconstruction cosine {0:F3} (train {1:F3}), utilisation per level [{2}], collision rate {3:P1}",
            r.HeldOut.MeanCosine, r.Train.MeanCosine, string.Join(", ", r.Utilisation.Select(u => u.ToString("P0", inv))), r.CollisionRate);
        return new RqVaeSummary(r.Options.Levels, r.Options.CodesPerLevel, r.Options.LatentDim, r.Train.Mse, r.Train.MeanCosine, r.HeldOut.Count,
            r.HeldOut.Mse, r.HeldOut.MeanCosine, r.Utilisation, r.CollisionRate, r.LossCurve, line);
    }
}
