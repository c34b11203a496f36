using CoNRec.Core;
using CoNRec.Model.SasRec;
using CoNRec.Offline.Evaluation;

namespace CoNRec.Batch.Experiment;

/// <summary>
/// The ablation's learned non-LLM peer: SASRec over each user's negative sequence (PNFRec's negative encoder),
/// trained on the training interactions only, predicting next negatives as items; its top items are mapped to their
/// SIDs (distinct, best first) and evaluated exactly like the model's SIDs.
/// </summary>
public static class SasRecPeer
{
    public const string Name = "SASRec (negative sequence)";

    public static AblationEvaluation.Entry Train(TemporalSplit split, IReadOnlyDictionary<string, ulong> catalog, SidLayout layout, SasRecOptions o, StageContext s, int k = 20)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var items = catalog.Keys.OrderBy(x => x, StringComparer.Ordinal).ToList();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < items.Count; i++) index[items[i]] = i + 1;
        var train = new List<int[]>();
        var validation = new List<int[]>();
        foreach (var g in split.Train.Where(x => x.IsNegative).GroupBy(x => x.UserId, StringComparer.Ordinal))
        {
            var seq = g.OrderBy(x => x.Timestamp).Select(x => index.GetValueOrDefault(x.ItemId)).Where(i => i > 0).ToArray();
            if (seq.Length < 2) continue;
            (StableHash(g.Key) % 10 == 0 ? validation : train).Add(seq);
        }
        var progress = s.Counter(o.MaxEpochs, "epochs");
        using var result = SasRecTrainer.Train(items.Count, train, validation, o, new SyncProgress<int>(e => progress.Report(e)));
        var cases = split.Cases.Concat(split.ValidationCases).ToList();
        var histories = cases.Select(c => c.History.Where(x => x.IsNegative && x.Timestamp <= c.At).OrderBy(x => x.Timestamp)
            .Select(x => index.GetValueOrDefault(x.ItemId)).Where(i => i > 0).ToArray()).ToList();
        // Several items can share a SID: read deeper than k items so k distinct SIDs remain.
        var top = SasRecTrainer.Predict(result.Model, histories, Math.Min(items.Count, k * 5), o.MaxLength);
        var predictions = new Dictionary<EvalCase, ulong[]>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < cases.Count; i++)
            predictions[cases[i]] = histories[i].Length == 0 ? [] : [.. top[i].Select(j => catalog[items[j - 1]]).Distinct().Take(k)];
        s.Detail = $"{train.Count} training and {validation.Count} validation sequences, {result.Epochs} epochs (best validation loss {result.BestValidationLoss:F3}), {clock.Elapsed.TotalSeconds:F0} s";
        return new AblationEvaluation.Entry(Name, $"d={o.Dimension}, {o.Blocks} blocks, {o.Heads} head, last {o.MaxLength} negatives; top items mapped to SIDs",
            c => predictions[c], clock.Elapsed.TotalSeconds);
    }

    private static uint StableHash(string s)
    {
        uint h = 2166136261;
        foreach (char c in s) h = (h ^ c) * 16777619;
        return h;
    }
}
