using CoNRec.Core;
using CoNRec.Offline.Data;
using CoNRec.Offline.Embeddings;
using CoNRec.Offline.Evaluation;
using Xunit;

namespace CoNRec.Offline.Tests.Evaluation;

public class BootstrapTests
{
    private static readonly DateTimeOffset T0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static List<EvalCase> Cases(int users, int casesPerUser = 1) =>
        [.. Enumerable.Range(0, users * casesPerUser).Select(i => new EvalCase($"u{i / casesPerUser}", T0, [], ["x"], [], 1))];

    private static MethodResult Hits(IReadOnlyList<EvalCase> cases, Func<int, bool> hit) => new(
        new MethodMetrics("m", null, null, null, null, null, cases.Count, 0, 0), OperatingCurve.Build([]))
    {
        Outcomes = [.. Enumerable.Range(0, cases.Count).Select(i => new CaseOutcome(false, hit(i), false, false, false, hit(i) ? 1 : 0, 1))],
    };

    [Fact]
    public void A_proportion_gets_the_normal_approximations_interval()
    {
        // 400 users, half of them hit: p = 0.5, standard error √(0.25/400) = 0.025, 95% interval ≈ 0.5 ± 0.049.
        var cases = Cases(400);
        var result = Hits(cases, i => i % 2 == 0);
        var i = new Bootstrap(cases, resamples: 2000, seed: 3).Of(result, Metric.FHR);
        Assert.Equal(0.5, i.Estimate!.Value, 12);
        Assert.InRange(i.Lower!.Value, 0.5 - 0.049 - 0.01, 0.5 - 0.049 + 0.01);
        Assert.InRange(i.Upper!.Value, 0.5 + 0.049 - 0.01, 0.5 + 0.049 + 0.01);
        // Same seed, same interval; a constant metric has a zero-width interval.
        Assert.Equal(i, new Bootstrap(cases, resamples: 2000, seed: 3).Of(result, Metric.FHR));
        var always = new Bootstrap(cases, 200).Of(Hits(cases, _ => true), Metric.FHR);
        Assert.Equal((1.0, 1.0, 1.0), (always.Estimate!.Value, always.Lower!.Value, always.Upper!.Value));
    }

    [Fact]
    public void A_users_cases_move_together()
    {
        // 50 users with 8 cases each, a user hits all or nothing: only 50 independent draws, so the interval is as wide as
        // for 50 cases, not 400 (± 1.96·√(0.25/50) ≈ 0.139).
        var cases = Cases(50, 8);
        var i = new Bootstrap(cases, resamples: 2000, seed: 5).Of(Hits(cases, c => c / 8 % 2 == 0), Metric.FHR);
        Assert.InRange(i.Upper!.Value - i.Lower!.Value, 2 * 0.139 * 0.8, 2 * 0.139 * 1.2);
    }

    [Fact]
    public void Paired_differences_cancel_shared_noise()
    {
        var cases = Cases(300);
        var a = Hits(cases, c => c % 3 != 0);
        var self = new Bootstrap(cases, 500).Difference(a, a, Metric.FHR);
        Assert.Equal((0.0, 0.0, 0.0), (self.Estimate!.Value, self.Lower!.Value, self.Upper!.Value));
        Assert.False(self.ExcludesZero);
        // b = a minus 30 hits on the same users: the difference is exactly 0.1 in the estimate and tight around it.
        var b = Hits(cases, c => c % 3 != 0 && c >= 45);
        var d = new Bootstrap(cases, 1000).Difference(a, b, Metric.FHR);
        Assert.Equal(0.1, d.Estimate!.Value, 12);
        Assert.True(d.ExcludesZero);
        Assert.InRange(d.Lower!.Value, 0.06, 0.1);
    }

    [Fact]
    public void Disliked_at_the_liked_budget_agrees_with_the_curve_and_treats_ties_as_one_step()
    {
        var rng = new Random(9);
        var cases = Cases(60);
        var items = new List<ScoredItem>();
        for (int c = 0; c < 60; c++)
            for (int k = 0; k < 5; k++)
                items.Add(new ScoredItem(c, MathF.Round((float)rng.NextDouble(), 1), rng.NextDouble() < 0.4)); // rounding makes ties
        var result = new MethodResult(new MethodMetrics("m", null, null, null, null, null, 60, 0, 0), OperatingCurve.Build(items.Select(i => (i.Score, i.Disliked))))
        {
            Outcomes = [.. Enumerable.Range(0, 60).Select(_ => default(CaseOutcome))], Items = items,
        };
        var bootstrap = new Bootstrap(cases, 100, likedBudget: 0.1);
        Assert.Equal(result.Curve.PointAtLikedRate(0.1)!.DislikedRejectRate, bootstrap.Of(result, Metric.DislikedAtLikedBudget).Estimate!.Value, 12);
        var (disliked, liked) = bootstrap.AtThreshold(result, 0.65);
        Assert.Equal(result.Curve.At(0.65).DislikedRejectRate, disliked.Estimate!.Value, 12);
        Assert.Equal(result.Curve.At(0.65).LikedRejectRate, liked.Estimate!.Value, 12);
        var band = bootstrap.Band(result, [0, 0.1, 1]);
        Assert.Equal(result.Curve.PointAtLikedRate(0.1)!.DislikedRejectRate, band[1].Disliked.Estimate!.Value, 12);
        Assert.True(band[0].Disliked.Estimate <= band[1].Disliked.Estimate && band[1].Disliked.Estimate <= band[2].Disliked.Estimate);
    }
}

public class FilterEvaluationTests
{
    /// <summary>Synthetic data (categories model) with a one-level codebook: every item its own code and its embedding as codeword.</summary>
    private static (InteractionDataset Dataset, TemporalSplit Split, Codebook Codebook, Dictionary<string, ulong> Catalog) Setup()
    {
        var ds = SyntheticGenerator.Generate(new SyntheticSpec { Users = 300, Items = 200, Days = 50, Model = SyntheticModel.Categories });
        var split = TemporalSplit.Create(ds, new SplitOptions { TestDays = 14, ValidationDays = 14 });
        var e = ItemEmbedder.Build(ds.Items, split.Train);
        var codebook = Codebook.Create(1, 256, e.Dimension, [.. e.Matrix, .. new float[(256 - e.Count) * e.Dimension]]);
        var catalog = e.ItemIds.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => (ulong)x.i);
        return (ds, split, codebook, catalog);
    }

    [Fact]
    public void Every_rows_threshold_comes_from_validation_and_test_only_measures_it()
    {
        var (ds, split, codebook, catalog) = Setup();
        Assert.NotEmpty(split.ValidationCases);
        var evaluator = new Evaluator(codebook, catalog, new EvalOptions());
        var outcome = new FilterEvaluation(evaluator, split, ds, catalog).Run("t", model: null, new ProfileGrid(), resamples: 50);
        var report = outcome.Report;
        Assert.Equal(FilterEvaluation.NegativesGuardName, report.Served);
        foreach (var row in report.Rows)
        {
            var v = Assert.IsType<ValidationChoice>(row.Validation);
            // The threshold is the validation curve's point within the budget, for the chosen parameters...
            if (row.Kind != MethodKind.Generator || row.Method == Baselines.PastNegativesName)
            {
                var rerun = evaluator.Evaluate(new EvalMethod(row.Method, row.Kind)
                {
                    Profile = row.Kind == MethodKind.Rule ? null : c => ProfileOf(row, c, catalog),
                    Blocks = row.Kind != MethodKind.Rule ? null : row.Method == Baselines.CategoryRuleName ? new Baselines(ds, split, catalog, 20).CategoryRule : Baselines.ExactItemBlock,
                    Rule = RuleOf(row),
                }, split.ValidationCases, split);
                Assert.Equal(rerun.Curve.PointAtLikedRate(EvalReport.HeadlineLikedRate)!.Threshold, v.Threshold);
            }
            // ...and the test rates are those of serving at it on the test curve.
            Assert.Equal(row.Curve.At(v.Threshold).DislikedRejectRate, row.ServedDisliked.Estimate!.Value, 12);
            Assert.Equal(row.Curve.At(v.Threshold).LikedRejectRate, row.ServedLiked.Estimate!.Value, 12);
        }
        Assert.Equal(outcome.Served.Threshold, report.Row(report.Served!).Validation!.Threshold);
        Assert.Contains(report.Differences, d => d.B == Baselines.CategoryRuleName);
    }

    private static CaseProfile ProfileOf(ReportRow row, EvalCase c, Dictionary<string, ulong> catalog)
    {
        var n = row.Detail is { } d && d.StartsWith("N=", StringComparison.Ordinal) ? int.Parse(d[2..].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture) : 20;
        var recent = RecentSids.Take(Baselines.NegativesNewestFirst(c), catalog, n);
        return row.Method == Baselines.PastNegativesName ? new CaseProfile(recent)
            : new CaseProfile([], recent, RuleOf(row).GuardWeight > 0 ? RecentSids.Take(Baselines.PositivesNewestFirst(c), catalog, 10) : null);
    }

    private static ProfileRule RuleOf(ReportRow row)
    {
        var guard = row.Detail is { } d && d.Contains("guard ", StringComparison.Ordinal)
            ? float.Parse(d[(d.IndexOf("guard ", StringComparison.Ordinal) + 6)..].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture) : 0f;
        return new ProfileRule(guard, 1f);
    }
}
