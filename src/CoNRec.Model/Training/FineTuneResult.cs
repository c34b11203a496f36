using CoNRec.Model.Qwen3;

namespace CoNRec.Model.Training;

/// <summary>The trained model (still in memory, eval mode) and the curves; the bundle is already on disk.</summary>
public sealed class FineTuneResult : IDisposable
{
    public required string BundleDirectory { get; init; }
    public required Qwen3ForCausalLM Model { get; init; }
    public required int VocabSize { get; init; }
    public required long ParameterCount { get; init; }
    public required IReadOnlyList<FineTuneStageResult> Stages { get; init; }
    /// <summary>Held-out alignment accuracy before any training (chance level for 4 candidates is 0.25).</summary>
    public double? InitialAlignmentAccuracy { get; init; }
    public double? AlignmentAccuracy => Stages.Count > 0 ? Stages[^1].AlignmentAccuracy : null;
    public required int AlignmentHeldOut { get; init; }
    public required TimeSpan WallTime { get; init; }
    /// <summary>Trainable parameters (all of them from scratch; LoRA and the SID token rows from a base).</summary>
    public long TrainableParameters { get; init; }
    public IReadOnlyList<GrpoStageResult> GrpoStages { get; init; } = [];
    public IReadOnlyList<GrpoStepLog> GrpoSteps { get; init; } = [];
    /// <summary>Epochs each SFT stage ran before its validation loss stopped improving.</summary>
    public IReadOnlyList<int> EpochsRun { get; init; } = [];

    public void Dispose() => Model.Dispose();
}
