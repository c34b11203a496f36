namespace CoNRec.Model.Training;

/// <summary>A prompt and the L SID token ids the model must produce after it (the only tokens that carry loss).</summary>
internal sealed record TrainingSequence(int[] Prompt, int[] Answer);
