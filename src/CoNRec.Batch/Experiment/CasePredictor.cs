using CoNRec.Model.Bundle;
using CoNRec.Model.Checkpoint;
using CoNRec.Model.Generation;
using CoNRec.Offline.Evaluation;

namespace CoNRec.Batch.Experiment;

/// <summary>
/// Runs the fine-tuned bundle's constrained beam search for every evaluation case, each with its history cut at the
/// case's time, exactly as the nightly generator builds prompts (same bundle, same prompt template).
/// </summary>
public static class CasePredictor
{
    public sealed record Result(Dictionary<EvalCase, ulong[]> Predictions, int EmptyPrompts, TimeSpan Prefill, TimeSpan Decode);

    public static Result Predict(string bundleDir, IReadOnlyList<EvalCase> cases, int batchSize, string device, IProgress<long>? progress)
    {
        var bundle = ModelBundle.Load(bundleDir);
        var dev = Qwen3Checkpoint.ParseDevice(device);
        using var model = bundle.LoadModel(dev);
        using var trie = bundle.BuildTrie(model.Config.VocabSize, dev);
        var timings = new PhaseTimings();
        var search = new ConstrainedBeamSearch(model, trie, bundle.Beam with { MaxBatchUsers = batchSize }, bundle.PadTokenId, dev) { Timings = timings };
        var prompts = bundle.CreatePromptBuilder();
        var predictions = new Dictionary<EvalCase, ulong[]>(ReferenceEqualityComparer.Instance);
        int empty = 0;
        long done = 0;
        foreach (var chunk in cases.Chunk(Math.Max(1, batchSize * 4)))
        {
            var asked = new List<(EvalCase Case, int[] Tokens)>();
            foreach (var c in chunk)
            {
                var prompt = prompts.Build(HistoryConversion.ToUserHistory(c.UserId, c.History, c.At), c.At);
                if (prompt.Empty) { empty++; predictions[c] = []; continue; }
                asked.Add((c, [.. prompt.TokenIds]));
            }
            if (asked.Count > 0)
            {
                var results = search.Generate([.. asked.Select(a => a.Tokens)]);
                for (int i = 0; i < asked.Count; i++) predictions[asked[i].Case] = [.. results[i].Select(g => g.Sid)];
            }
            done += chunk.Length;
            progress?.Report(done);
        }
        return new Result(predictions, empty, timings.Prefill, timings.Decode);
    }
}
