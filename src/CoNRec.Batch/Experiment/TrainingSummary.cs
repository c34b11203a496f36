using System.Globalization;
using CoNRec.Model.Training;

namespace CoNRec.Batch.Experiment;

/// <summary>The fine-tuning figures a report carries: per-stage loss curve ends, validation loss and alignment accuracy.</summary>
public sealed record TrainingSummary(long Parameters, double WallSeconds, double? AlignmentAccuracyBefore, double? AlignmentAccuracyAfter,
    IReadOnlyList<TrainingSummary.Stage> Stages, string Line)
{
    public sealed record Stage(string Context, int Sequences, int AlignmentSequences, double FirstLoss, double LastLoss, double? ValidationLoss,
        double? AlignmentAccuracy, double WallSeconds, IReadOnlyList<double> EpochLosses);

    public static TrainingSummary Of(FineTuneResult r)
    {
        var stages = r.Stages.Select(s => new Stage(s.Context.ToString(), s.Sequences, s.AlignmentSequences,
            s.StepLosses.Count > 0 ? s.StepLosses[0] : double.NaN, s.StepLosses.Count > 0 ? Tail(s.StepLosses) : double.NaN,
            s.ValidationLoss, s.AlignmentAccuracy, s.WallTime.TotalSeconds, s.EpochLosses)).ToList();
        string F(double? x) => x is { } v ? v.ToString("F3", CultureInfo.InvariantCulture) : "n/a";
        string Sft(Stage s) => double.IsNaN(s.FirstLoss) ? $"{s.Context}: no SFT step (started from a trained model), val {F(s.ValidationLoss)}"
                                                        : $"{s.Context}: loss {F(s.FirstLoss)} → {F(s.LastLoss)}, val {F(s.ValidationLoss)}";
        var line = $"{r.ParameterCount / 1e6:F2}M parameters; " + string.Join("; ", stages.Select(Sft))
                   + $"; alignment acc {F(r.InitialAlignmentAccuracy)} → {F(r.AlignmentAccuracy)}"
                   + (r.TrainableParameters < r.ParameterCount ? $"; {r.TrainableParameters / 1e6:F3}M trainable (LoRA + SID rows)" : "")
                   + (r.GrpoStages.Count > 0 ? "; GRPO " + string.Join(", ", r.GrpoStages.Select(g => $"{g.Stage.Context}: {g.Steps} steps, validation {g.Criterion} {F(g.InitialValidationReward)} → {F(g.BestValidationReward)}")) : "");
        return new TrainingSummary(r.ParameterCount, r.WallTime.TotalSeconds, r.InitialAlignmentAccuracy, r.AlignmentAccuracy, stages, line);
    }

    /// <summary>Mean of the last 10% of step losses: one noisy final batch says little.</summary>
    private static double Tail(IReadOnlyList<double> losses)
    {
        int n = Math.Max(1, losses.Count / 10);
        return losses.Skip(losses.Count - n).Average();
    }
}
