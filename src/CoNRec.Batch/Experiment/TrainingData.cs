using CoNRec.Model.Training;
using CoNRec.Offline.Data;
using CoNRec.Offline.Evaluation;

namespace CoNRec.Batch.Experiment;

/// <summary>How fine-tuning examples are cut from the training interactions (everything at or before the split cut-off).</summary>
public sealed record TrainingDataOptions
{
    /// <summary>The paper's next-items horizon: targets are the negatives within this many days after the anchor.</summary>
    public double HorizonDays { get; init; } = 7;

    /// <summary>Anchors per user (the times of their negatives, evenly thinned): bounds one heavy user's weight.</summary>
    public int MaxAnchorsPerUser { get; init; } = 8;

    /// <summary>Distinct future negatives kept per anchor, earliest first.</summary>
    public int MaxTargets { get; init; } = 6;

    /// <summary>Swing neighbours (Eq. 5) added per future negative, and the cap on added items per anchor.</summary>
    public int SwingPerTarget { get; init; } = 1;

    public int MaxSwingTargets { get; init; } = 3;

    /// <summary>Item-level alignment examples (pick the disliked item among 4) per user with ≥ 3 positives.</summary>
    public int AlignmentPerUser { get; init; } = 2;

    /// <summary>One user in this many is held out for validation loss (by a stable hash of the id).</summary>
    public int ValidationEvery { get; init; } = 10;

    public int Seed { get; init; } = 7;
}

public sealed record TrainingData(IReadOnlyList<SftExample> Train, IReadOnlyList<SftExample> Validation, IReadOnlyList<AlignmentExample> Alignment,
    int SwingAdded, int Users)
{
    /// <summary>GRPO prompts at the same anchors: the next negative, the 7-day negatives with Swing, and the 7-day positives.</summary>
    public IReadOnlyList<GrpoExample> GrpoTrain { get; init; } = [];
    public IReadOnlyList<GrpoExample> GrpoValidation { get; init; } = [];

    /// <summary>
    /// Next-items examples: for each anchor (the time of one of the user's negatives; history up to it), the targets are the
    /// distinct negatives in (anchor, anchor + horizon] that are still before the cut-off (no test leakage), expanded
    /// by the Swing neighbours of those items. Alignment examples pair one negative with three of the user's positives.
    /// </summary>
    public static TrainingData Build(IReadOnlyList<Interaction> train, SwingIndex swing, TrainingDataOptions o)
    {
        var byUser = HistoryConversion.ByUser(train);
        var sft = new List<SftExample>();
        var validation = new List<SftExample>();
        var alignment = new List<AlignmentExample>();
        var grpoTrain = new List<GrpoExample>();
        var grpoValidation = new List<GrpoExample>();
        var rng = new Random(o.Seed);
        int swingAdded = 0;
        var horizon = TimeSpan.FromDays(o.HorizonDays);
        foreach (var (user, list) in byUser.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var negatives = list.Where(x => x.IsNegative).ToList();
            if (negatives.Count < 2) continue;
            // An anchor is the moment of a negative (history up to and including it): that is when the prompt's newest
            // signal arrives. Not one per day: MovieLens users rate a whole session within minutes, and the rest of
            // the session is exactly the "next items" the model should learn.
            var anchors = negatives.Select(x => x.Timestamp).Distinct().ToList();
            anchors = Thin(anchors, o.MaxAnchorsPerUser);
            bool held = o.ValidationEvery > 0 && StableHash(user) % (uint)o.ValidationEvery == 0;
            foreach (var at in anchors)
            {
                var targets = new List<string>();
                foreach (var x in negatives)
                {
                    if (x.Timestamp <= at || x.Timestamp > at + horizon) continue;
                    if (!targets.Contains(x.ItemId)) targets.Add(x.ItemId);
                    if (targets.Count == o.MaxTargets) break;
                }
                if (targets.Count == 0) continue;
                string next = targets[0];
                var unexpanded = targets.ToList();
                if (o.SwingPerTarget > 0)
                {
                    var extra = swing.Expand(targets, o.SwingPerTarget).Take(o.MaxSwingTargets).ToList();
                    swingAdded += extra.Count;
                    targets.AddRange(extra);
                }
                var history = HistoryConversion.ToUserHistory(user, list, at);
                var example = new SftExample(history, at, targets);
                (held ? validation : sft).Add(example);
                // The future-positive set of Eq. 6: what the user liked in the same horizon (training data only, before the cut-off).
                var futurePositives = list.Where(x => x.IsPositive && x.Timestamp > at && x.Timestamp <= at + horizon).Select(x => x.ItemId).Distinct().ToList();
                (held ? grpoValidation : grpoTrain).Add(new GrpoExample(history, at, next, targets, futurePositives) { FutureNegatives = unexpanded });
            }
            if (held) continue;
            var positives = list.Where(x => x.IsPositive).Select(x => x.ItemId).Distinct().ToList();
            if (positives.Count < 3) continue;
            var disliked = negatives.Select(x => x.ItemId).Distinct().ToList();
            for (int k = 0; k < o.AlignmentPerUser && k < disliked.Count; k++)
            {
                var negative = disliked[rng.Next(disliked.Count)];
                var picks = positives.OrderBy(_ => rng.Next()).Take(3).ToList();
                alignment.Add(new AlignmentExample(negative, picks));
            }
        }
        return new TrainingData(sft, validation, alignment, swingAdded, byUser.Count) { GrpoTrain = grpoTrain, GrpoValidation = grpoValidation };
    }

    private static List<DateTimeOffset> Thin(List<DateTimeOffset> anchors, int max)
    {
        if (anchors.Count <= max) return anchors;
        // Evenly spaced, always keeping the latest (closest to serving time).
        var kept = new List<DateTimeOffset>(max);
        for (int i = 0; i < max; i++) kept.Add(anchors[(int)Math.Round((anchors.Count - 1) * (i + 1.0) / max)]);
        return kept.Distinct().ToList();
    }

    private static uint StableHash(string s)
    {
        uint h = 2166136261;
        foreach (char c in s) h = (h ^ c) * 16777619;
        return h;
    }
}
