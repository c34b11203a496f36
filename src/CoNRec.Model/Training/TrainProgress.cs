using CoNRec.Model.Prompting;

namespace CoNRec.Model.Training;

/// <summary>Reported after every optimizer step. <paramref name="Step"/> counts from 1 over the whole run.</summary>
public sealed record TrainProgress(int Stage, PromptContext Context, int Epoch, int Step, int TotalSteps, double Loss, double LearningRate, TimeSpan Elapsed);
