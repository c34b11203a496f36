namespace CoNRec.Model.Prompting;

/// <summary>
/// The paper's progressive contexts (Progressive GRPO): the prompt must use the one the model was trained on.
/// </summary>
public enum PromptContext
{
    /// <summary>"recent_negatives": negatives of the last <see cref="PromptTemplate.RecentDays"/> days.</summary>
    RecentNegatives,

    /// <summary>"all_negatives": every negative up to the reference time.</summary>
    AllNegatives,

    /// <summary>"negatives_and_positives": all negatives plus the positive-feedback clause.</summary>
    NegativesAndPositives,
}
