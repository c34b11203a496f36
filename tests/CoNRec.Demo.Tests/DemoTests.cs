using System.Text.Json;
using CoNRec.Batch.Experiment;
using CoNRec.Demo;
using CoNRec.Core;
using CoNRec.Model.Bundle;
using CoNRec.Offline.Evaluation;
using CoNRec.V1;
using Xunit;

namespace CoNRec.Demo.Tests;

/// <summary>
/// The README's main job at CI size: synthetic data → embeddings → RQ-VAE → fine-tune → evaluation → the real filter
/// service with embedded Garnet → generate → publish → admin threshold → FilterCandidates over gRPC.
/// </summary>
[Collection(DemoCollection.Name)]
public sealed class DemoTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "conrec-demo-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task Demo_runs_the_whole_loop_and_serves_what_it_evaluated()
    {
        var presets = new Presets("unused");
        var parsed = presets.AddTo(new System.CommandLine.RootCommand(), dataSources: false)
            .Parse(["--quick", "--out", _dir, "--no-progress-bar", "--users", "200", "--items", "240"]);
        Assert.Empty(parsed.Errors);
        var options = presets.Read(parsed);
        var stdout = new StringWriter();
        var result = await new DemoCommand(options, stdout, TextWriter.Null).RunAsync();
        string text = stdout.ToString();

        // Every stage ran and reported wall time and memory.
        Assert.Equal(["data", "split", "embeddings", "rq-vae", "examples", "fine-tune", "predict", "evaluate", "serve", "generate", "filter"],
            result.Stages.Select(s => s.Stage));
        Assert.All(result.Stages, s => Assert.True(s.PeakRssBytes > 0));

        // The table has the model, every part of the served profile, the three baselines and the two rules, all rates in
        // [0, 1] with intervals around them; the served row's parameters and threshold come from validation cases.
        var report = result.Experiment.Report!;
        Assert.Equal([ExperimentRun.ModelMethod, FilterEvaluation.NegativesName, FilterEvaluation.NegativesGuardName, FilterEvaluation.ModelGuardName,
                      FilterEvaluation.UnionName, FilterEvaluation.ServedName, Baselines.PastNegativesName, Baselines.CategoryBlockName,
                      Baselines.GlobalTopDislikedName, Baselines.CategoryRuleName, Baselines.ExactItemBlockName], report.Rows.Select(r => r.Method));
        foreach (var r in report.Rows)
        {
            Assert.All(new[] { r.Metrics.HR, r.Metrics.FHR, r.Metrics.LUF, r.Metrics.LIF, r.Metrics.CandidateAcc }, v => Assert.InRange(v ?? 0, 0, 1));
            var at = r.Intervals[Metric.DislikedAtLikedBudget];
            Assert.True(at.Lower <= at.Estimate + 1e-12 && at.Estimate <= at.Upper + 1e-12, $"{r.Method}: {at}");
            Assert.Contains(r.Method, text);
        }
        Assert.Equal(FilterEvaluation.ServedName, report.Served);
        var served = report.Row(FilterEvaluation.ServedName);
        Assert.NotNull(served.Validation);
        Assert.Equal(served.Validation!.Threshold, result.Threshold);
        Assert.True(report.Validation!.Cases > 0 && report.Test!.Cases > 0);
        Assert.Contains(report.Differences, d => d.A == FilterEvaluation.ServedName && d.B == Baselines.PastNegativesName);
        Assert.Contains("FilterCandidates", text);
        Assert.Contains("Dataset statistics", text);

        // Artefacts: JSON report, two PNGs, a loadable bundle whose codebook carries the RQ-VAE encoder.
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "eval.json")))) Assert.Equal(JsonValueKind.Object, json.RootElement.ValueKind);
        foreach (var png in new[] { "operating_curves.png", "operating_curves_low.png", "metrics.png", "training_loss.png" })
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(Path.Combine(_dir, png))[..4]);
        var bundle = ModelBundle.Load(result.Experiment.BundleDirectory);
        Assert.NotNull(bundle.Codebook.Encoder);
        Assert.Equal(result.Experiment.Codebook.ContentHash, bundle.Codebook.ContentHash);

        // The bundle tells generate to store the recent parts the served row was evaluated with.
        Assert.Equal(result.Experiment.Served!.RecentNegatives, bundle.RecentNegatives);

        // Served answers: same length as asked, scored against the published generation with the evaluated threshold and rule.
        Assert.NotEmpty(result.Calls);
        foreach (var call in result.Calls)
        {
            Assert.Equal(result.Generation, call.Response.Generation);
            Assert.Equal((float)result.Threshold, call.Response.Threshold);
            Assert.Equal(result.Experiment.Served.GuardWeight, call.Response.GuardWeight);
            Assert.Equal(result.Experiment.Served.PredictedWeight, call.Response.PredictedWeight);
            Assert.Equal(call.Asked.Count, call.Response.Decisions.Count);
            for (int i = 0; i < call.Asked.Count; i++)
            {
                var d = call.Response.Decisions[i];
                Assert.Equal(Reason.Scored, d.Reason);
                Assert.Equal(d.Score > (float)result.Threshold, d.WouldReject);
                Assert.Equal(d.WouldReject, d.Rejected); // the demo enforces
            }
            // The cold-start copy of an item (embedding only) gets the SID the RQ-VAE gave the catalog item, so the same score.
            int cold = call.Asked.ToList().FindIndex(a => a.Candidate.ItemId.StartsWith("new:", StringComparison.Ordinal));
            Assert.True(cold >= 0);
            int known = call.Asked.ToList().FindIndex(a => a.Candidate.ItemId == call.Asked[cold].Candidate.ItemId[4..]);
            Assert.Equal(call.Response.Decisions[known].Score, call.Response.Decisions[cold].Score, 1e-5f);
        }
    }

    [Fact]
    public void Histories_written_for_the_generator_read_back_with_the_same_events()
    {
        Directory.CreateDirectory(_dir);
        var t0 = new DateTimeOffset(2024, 3, 1, 0, 0, 0, TimeSpan.Zero);
        var interactions = new[]
        {
            new Offline.Data.Interaction("u1", "a", t0, Offline.Data.FeedbackKind.Negative, Reason: "not_interested"),
            new Offline.Data.Interaction("u1", "b", t0.AddHours(1), Offline.Data.FeedbackKind.Purchase),
            new Offline.Data.Interaction("u1", "c", t0.AddHours(2), Offline.Data.FeedbackKind.Rating, Rating: 3), // neutral: left out
            new Offline.Data.Interaction("u2", "c", t0.AddHours(3), Offline.Data.FeedbackKind.Rating, Rating: 3), // nothing to say: no line
        };
        string path = Path.Combine(_dir, "h.jsonl");
        Assert.Equal(1, HistoryConversion.WriteJsonl(path, interactions));
        var records = CoNRec.Batch.Histories.HistoryReader.Read(path, CancellationToken.None).ToList();
        var h = Assert.Single(records).History!;
        Assert.Equal("u1", h.UserId);
        var n = Assert.Single(h.Negatives);
        Assert.Equal(("a", t0, "not_interested"), (n.ItemId, n.Timestamp, n.Kind));
        var p = Assert.Single(h.Positives);
        Assert.Equal(("b", t0.AddHours(1), "purchase"), (p.ItemId, p.Timestamp, p.Kind));
    }
}

/// <summary>
/// The demo trains models on every core; run alone so the other tests' Redis/Garnet round trips keep their 2 s
/// client timeouts on a 2-core CI box.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DemoCollection
{
    public const string Name = "demo (runs alone)";
}
