using CoNRec.Model.Prompting;

namespace CoNRec.Model.Training;

/// <summary>What one stage of the schedule did and measured.</summary>
/// <param name="Sequences">Teacher-forced next-items sequences per epoch (one per usable target).</param>
/// <param name="AlignmentSequences">Alignment sequences mixed into each epoch.</param>
/// <param name="SkippedExamples">Examples with an empty prompt in this context or no target in the catalog.</param>
/// <param name="StepLosses">Mean answer-token cross-entropy of every optimizer step.</param>
/// <param name="EpochLosses">Mean of the step losses of each epoch.</param>
/// <param name="ValidationLoss">Answer-token cross-entropy on the validation examples with this stage's prompt; null without any.</param>
/// <param name="AlignmentAccuracy">Share of held-out alignment examples whose negative scores highest among the candidates; null without any.</param>
/// <param name="SamplePrompt">The first training prompt of the stage, for audits (the context it shows).</param>
public sealed record FineTuneStageResult(
    PromptContext Context,
    PromptTemplate Template,
    int Sequences,
    int AlignmentSequences,
    int SkippedExamples,
    IReadOnlyList<double> StepLosses,
    IReadOnlyList<double> EpochLosses,
    double? ValidationLoss,
    double? AlignmentAccuracy,
    string? SamplePrompt,
    TimeSpan WallTime)
{
    /// <summary>Validation loss after each epoch that ran (early stopping keeps the best of them).</summary>
    public IReadOnlyList<double> EpochValidationLosses { get; init; } = [];
}
