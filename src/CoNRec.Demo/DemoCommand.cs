using System.Globalization;
using CoNRec.Batch.Experiment;
using CoNRec.Offline.Data;
using CoNRec.Offline.Evaluation;
using CoNRec.V1;

namespace CoNRec.Demo;

/// <summary>
/// The README's main job: the whole loop on synthetic data with embedded defaults. Offline: data → embeddings →
/// RQ-VAE → fine-tune → evaluation with baselines. Online: the filter service with its embedded Garnet, the nightly
/// <c>generate</c> + <c>publish</c> against it, an operator setting the threshold the evaluation recommends, and
/// real FilterCandidates calls on test users' future items, printed with their decisions and reasons.
/// </summary>
public sealed class DemoCommand(ExperimentOptions options, TextWriter stdout, TextWriter log)
{
    public const string Scene = "default";

    /// <summary>One FilterCandidates call: the asked candidates with their ground truth, and the service's answer.</summary>
    public sealed record Call(EvalCase Case, IReadOnlyList<(Candidate Candidate, string Truth)> Asked, FilterCandidatesResponse Response);

    public sealed record Result(ExperimentResult Experiment, string Generation, double Threshold, IReadOnlyList<Call> Calls, IReadOnlyList<StageTiming> Stages);

    public async Task<Result> RunAsync()
    {
        var stages = new StageRunner(log, options.Terminal);
        var result = new ExperimentRun(options, stages).Run();
        string Out(string name) => Path.Combine(options.OutputDirectory, name);

        await using var server = await stages.RunAsync("serve", async s =>
        {
            var started = await DemoServer.StartAsync();
            s.Detail = $"filter service on loopback, embedded Garnet at {started.Redis}";
            return started;
        });

        var generation = await stages.RunAsync("generate", async s =>
        {
            // Each user's history ends where their test cases start, so the candidates below are truly in the user's future.
            int users = HistoryConversion.WriteJsonl(Out("histories.jsonl"), result.Split.ServingHistory());
            var g = await server.GenerateAndPublishAsync(result.BundleDirectory, Out("histories.jsonl"), Out("predictions.jsonl"), options.Terminal, log);
            s.Detail = $"{users} users generated and published as {g}";
            return g;
        });

        // Served exactly as evaluated: threshold and guard weight chosen on validation cases (never rounded: a tie group
        // sits right at the threshold).
        double threshold = Math.Clamp(result.ServedThreshold, -1, 1), guard = result.Served!.GuardWeight, predicted = result.Served.PredictedWeight;
        var answers = await stages.RunAsync("filter", async s =>
        {
            await server.SetThresholdAsync(Scene, threshold, guard, predicted, generation);
            var list = new List<Call>();
            foreach (var c in PickUsers(result.Split.Cases, 3))
            {
                var asked = new List<(Candidate, string)>();
                foreach (var item in c.FutureNegatives.Take(4)) asked.Add((new Candidate { ItemId = item }, "disliked"));
                foreach (var item in c.FuturePositives.Take(4)) asked.Add((new Candidate { ItemId = item }, "liked"));
                // A cold-start item: not in the catalog, sent with its embedding; the service assigns its SID.
                var cold = c.FutureNegatives[0];
                if (result.Embeddings.TryGet(cold, out var vector))
                {
                    var candidate = new Candidate { ItemId = "new:" + cold };
                    candidate.Embedding.AddRange(vector.ToArray());
                    asked.Add((candidate, "disliked (cold start)"));
                }
                list.Add(new Call(c, asked, await server.FilterAsync(c.UserId, Scene, asked.Select(a => a.Item1))));
            }
            s.Detail = $"{list.Count} FilterCandidates calls over gRPC";
            return list;
        });

        stdout.WriteLine();
        var served = result.Report!.Row(result.Report.Served!);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"FilterCandidates (scene '{Scene}', generation {generation}): threshold {threshold:F4}, guard weight {guard:0.##}, predicted weight {predicted:0.##}, chosen on validation cases at <= {EvalReport.HeadlineLikedRate:P0} liked rejected; " +
            $"on the test cases they reject {served.ServedDisliked.Estimate:P1} of future disliked and {served.ServedLiked.Estimate:P1} of future liked items"));
        foreach (var (c, asked, response) in answers)
        {
            stdout.WriteLine($"  user {c.UserId}: {c.PastNegatives} past negatives; candidates from the 7 days after {c.At:yyyy-MM-dd}");
            stdout.WriteLine($"    {"item",-14} {"truth",-22} {"decision",-8} {"score",6}  {"match",-15} title [categories]");
            for (int i = 0; i < asked.Count; i++)
            {
                var d = response.Decisions[i];
                string id = asked[i].Candidate.ItemId;
                string key = id.StartsWith("new:", StringComparison.Ordinal) ? id[4..] : id;
                var f = result.Dataset.ItemsById.TryGetValue(key, out var features) ? features : null;
                string decision = d.Rejected ? "REJECT" : d.WouldReject ? "WOULD" : "keep";
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    {Trim(id, 14),-14} {asked[i].Truth,-22} {decision,-8} {d.Score,6:F3}  {(d.Reason == Reason.Scored ? d.MatchSource.ToString() : d.Reason.ToString()),-15} {Trim(f?.Title ?? "", 34)} [{string.Join(", ", f?.Categories ?? [])}]"));
            }
        }

        stdout.WriteLine();
        stdout.WriteLine(result.Report.FormatTable());
        stdout.WriteLine("Dataset statistics (test cases): " + result.Statistics!.Line);
        stdout.WriteLine("Stages (wall time, peak RSS of the stage):");
        stdout.WriteLine(stages.FormatTable());
        stdout.WriteLine($"Artefacts in {Path.GetFullPath(options.OutputDirectory)}: eval.json, operating_curves.png, operating_curves_low.png, metrics.png, training_loss.png, codebook.safetensors, catalog.jsonl, bundle/, predictions.jsonl");
        return new Result(result, generation, threshold, answers, stages.Timings);
    }

    /// <summary>Test users with both future dislikes and future likes, most informative first; deterministic.</summary>
    private static IEnumerable<EvalCase> PickUsers(IReadOnlyList<EvalCase> cases, int n) =>
        cases.GroupBy(c => c.UserId, StringComparer.Ordinal)
             .Select(g => g.First())
             .Where(c => c.FutureNegatives.Count > 0)
             .OrderByDescending(c => Math.Min(c.FutureNegatives.Count, 4) + Math.Min(c.FuturePositives.Count, 4))
             .ThenBy(c => c.UserId, StringComparer.Ordinal)
             .Take(n);

    private static string Trim(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";
}
