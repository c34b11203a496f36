using CoNRec.Model.Prompting;

namespace CoNRec.Model.Training;

/// <summary>One step of the progressive context schedule: the prompt context and how many passes over the data.</summary>
/// <param name="RecentDays">Window of <see cref="PromptContext.RecentNegatives"/>; ignored by the other contexts.</param>
public sealed record FineTuneStage(PromptContext Context, int Epochs = 1, double RecentDays = 3);
