using System.Globalization;
using CoNRec.Core;
using CoNRec.Offline.Data;

namespace CoNRec.Offline.Evaluation;

/// <summary>The parameter grid searched on validation cases for the profile's components.</summary>
public sealed record ProfileGrid
{
    /// <summary>How many recent negatives join the negative side (the stored profile's N).</summary>
    public IReadOnlyList<int> RecentNegatives { get; init; } = [5, 10, 20];
    /// <summary>Guard weights tried for the rows "with guard" (rows "without" use 0).</summary>
    public IReadOnlyList<float> GuardWeights { get; init; } = [0.25f, 0.5f, 0.75f, 1f];
    /// <summary>Predicted weights tried for rows that join the model's SIDs with recent negatives (1 first: the plain union).</summary>
    public IReadOnlyList<float> PredictedWeights { get; init; } = [1f, 0.9f, 0.8f, 0.7f, 0.6f, 0.5f];
    /// <summary>How many recent positives form the guard (the stored profile's M).</summary>
    public int RecentPositives { get; init; } = RecentSids.DefaultPositives;
}

/// <summary>
/// The honest comparison the product has to win: on the same test users, the served negative profile (the model's SIDs
/// ∪ recent negatives, with the positive guard), each of its components, the baselines and the rules. Every row's
/// parameters (N, guard weight) and serving threshold are chosen on the validation cases only, at the best point within
/// the liked-rejection budget; the test cases then only measure: the rates at that threshold, the test curve's point
/// within the budget (to compare curves), every metric with a bootstrap interval over users, and paired differences
/// of the served profile against each baseline.
/// </summary>
public sealed class FilterEvaluation(Evaluator evaluator, TemporalSplit split, InteractionDataset dataset, IReadOnlyDictionary<string, ulong> catalog)
{
    public const string ModelName = "CoNRec model";
    public const string NegativesName = "Recent negatives";
    public const string NegativesGuardName = "Recent negatives + guard";
    public const string UnionName = "Model ∪ recent negatives";
    public const string ModelGuardName = "Model + guard";
    public const string ServedName = "Served profile (model ∪ negatives + guard)";

    /// <summary>The served row's chosen configuration: what <c>generate</c> stores and the scene serves.</summary>
    public sealed record ServedConfiguration(int RecentNegatives, int RecentPositives, float GuardWeight, float PredictedWeight, double? Threshold);

    public sealed record Outcome(EvalReport Report, ServedConfiguration Served);

    /// <param name="model">The model's predicted SIDs per case (validation and test cases), or null to evaluate without a model.</param>
    /// <param name="includeBaselines">false for repeated runs on the same split (the ablation): the baselines do not change.</param>
    public Outcome Run(string title, Func<EvalCase, IReadOnlyList<ulong>>? model, ProfileGrid grid, int resamples = 1000, int seed = 7, int k = 20,
        bool includeBaselines = true)
    {
        var baselines = new Baselines(dataset, split, catalog, k);
        EvalMethod Profile(string name, bool withModel, int n, float guard, float predicted) => new(name, MethodKind.Profile)
        {
            Rule = new ProfileRule(guard, predicted),
            RecentNegatives = n,
            Profile = c => new CaseProfile(
                withModel ? model!(c) : [],
                n > 0 ? RecentSids.Take(Baselines.NegativesNewestFirst(c), catalog, n) : null,
                guard > 0 ? RecentSids.Take(Baselines.PositivesNewestFirst(c), catalog, grid.RecentPositives) : null),
            Detail = $"N={n}" + (guard > 0 ? string.Create(CultureInfo.InvariantCulture, $", M={grid.RecentPositives}, guard {guard:0.##}") : "")
                     + (withModel && n > 0 ? string.Create(CultureInfo.InvariantCulture, $", predicted weight {predicted:0.##}") : ""),
        };
        // Rows with only the model keep predicted weight 1: alone, scaling it only rescales the guard.
        IEnumerable<EvalMethod> Sweep(string name, bool withModel, bool negatives, bool guard) =>
            from n in negatives ? grid.RecentNegatives : [0]
            from g in guard ? grid.GuardWeights : [0f]
            from w in withModel && negatives ? grid.PredictedWeights : [1f]
            select Profile(name, withModel, n, g, w);

        var grids = new List<EvalMethod[]>();
        if (model is not null) grids.Add([EvalMethod.Generator(ModelName, model) with { Detail = $"top {k} SIDs of constrained beam search" }]);
        grids.Add([.. Sweep(NegativesName, false, true, false)]);
        grids.Add([.. Sweep(NegativesGuardName, false, true, true)]);
        if (model is not null)
        {
            grids.Add([.. Sweep(ModelGuardName, true, false, true)]);
            grids.Add([.. Sweep(UnionName, true, true, false)]);
            grids.Add([.. Sweep(ServedName, true, true, true)]);
        }
        if (includeBaselines) foreach (var b in baselines.Methods()) grids.Add([b]);

        var bootstrap = new Bootstrap(split.Cases, resamples, seed, EvalReport.HeadlineLikedRate);
        var budgetGrid = Enumerable.Range(0, 51).Select(i => i / 50.0).ToArray();
        var report = new EvalReport
        {
            Title = title, K = k, Split = split.Describe(), Resamples = resamples,
            Served = model is not null ? ServedName : NegativesGuardName,
        };
        ServedConfiguration? served = null;
        foreach (var candidates in grids)
        {
            var (method, choice) = Choose(candidates);
            var result = evaluator.Evaluate(method, split.Cases, split);
            var row = new ReportRow
            {
                Method = method.Name, Kind = method.Kind, Detail = method.Detail, Metrics = result.Metrics, Curve = result.Curve, Result = result,
                AtBudget = result.Curve.PointAtLikedRate(EvalReport.HeadlineLikedRate),
                Intervals = Enum.GetValues<Metric>().ToDictionary(m => m, m => bootstrap.Of(result, m)),
                Band = bootstrap.Band(result, budgetGrid),
                Validation = choice,
                MeanSetSize = result.Outcomes.Count == 0 ? 0 : result.Outcomes.Average(o => o.SetSize),
            };
            if (choice is not null)
            {
                var (d, l) = bootstrap.AtThreshold(result, choice.Threshold);
                row = Copy(row, d, l);
            }
            report.Add(row);
            if (method.Name == report.Served)
            {
                served = new ServedConfiguration(method.RecentNegatives, grid.RecentPositives, method.Rule.GuardWeight, method.Rule.PredictedWeight, choice?.Threshold);
            }
        }

        // Paired differences on the same users: the served profile against every baseline and rule, and against itself
        // without the model (what the model adds); the model's own FHR against the set baselines.
        var servedRow = report.Row(report.Served);
        var baselineNames = includeBaselines ? baselines.Methods().Select(m => m.Name).ToList() : [];
        foreach (var b in baselineNames.Append(model is not null ? NegativesGuardName : NegativesName))
            report.Differences.Add(new PairedDifference(servedRow.Method, b, Metric.DislikedAtLikedBudget,
                bootstrap.Difference(servedRow.Result!, report.Row(b).Result!, Metric.DislikedAtLikedBudget)));
        if (model is not null)
            foreach (var b in baselineNames.Where(b => report.Row(b).Kind == MethodKind.Generator))
                report.Differences.Add(new PairedDifference(ModelName, b, Metric.FHR, bootstrap.Difference(report.Row(ModelName).Result!, report.Row(b).Result!, Metric.FHR)));

        var generator = report.Rows.FirstOrDefault(r => r.Kind == MethodKind.Generator)?.Result;
        report.Test = CaseCounts.Of(split.Cases, generator);
        if (split.ValidationCases.Count > 0)
        {
            var vGenerator = generator is null ? null : evaluator.Evaluate(EvalMethod.Generator("count", _ => []), split.ValidationCases, split);
            report.Validation = CaseCounts.Of(split.ValidationCases, vGenerator);
        }
        return new Outcome(report, served ?? new ServedConfiguration(RecentSids.DefaultNegatives, grid.RecentPositives, 0.5f, 1f, null));
    }

    private static ReportRow Copy(ReportRow r, Interval disliked, Interval liked) => new()
    {
        Method = r.Method, Kind = r.Kind, Detail = r.Detail, Metrics = r.Metrics, Curve = r.Curve, Result = r.Result, Intervals = r.Intervals,
        AtBudget = r.AtBudget, Band = r.Band, Validation = r.Validation, MeanSetSize = r.MeanSetSize, ServedDisliked = disliked, ServedLiked = liked,
    };

    /// <summary>
    /// Picks a candidate on the validation cases by the one-standard-error rule: among the candidates whose validation
    /// curve rejects, within the liked budget, at least the best value minus one bootstrap standard error of that best
    /// value, the first (candidates are ordered lightest first: fewer recent negatives, a lighter guard, full predicted
    /// weight). Taking the plain maximum over dozens of noisy configurations would pick validation noise (the winner's
    /// curse) and promise on test what it cannot keep. Without validation cases the first candidate is taken and no
    /// threshold is chosen: the report then says n/a rather than read one off the test cases.
    /// </summary>
    private (EvalMethod Method, ValidationChoice? Choice) Choose(EvalMethod[] candidates)
    {
        if (split.ValidationCases.Count == 0) return (candidates[0], null);
        var results = candidates.Select(m => (Method: m, Result: evaluator.Evaluate(m, split.ValidationCases, split))).ToList();
        var values = results.Select(r => r.Result.Curve.PointAtLikedRate(EvalReport.HeadlineLikedRate)?.DislikedRejectRate ?? 0).ToList();
        int best = values.IndexOf(values.Max());
        double se = 0;
        if (candidates.Length > 1)
        {
            var interval = new Bootstrap(split.ValidationCases, resamples: 200, seed: 11, EvalReport.HeadlineLikedRate).Of(results[best].Result, Metric.DislikedAtLikedBudget);
            if (interval.Lower is { } lo && interval.Upper is { } hi) se = (hi - lo) / 3.92;
        }
        int chosen = values.FindIndex(v => v >= values[best] - se - 1e-12);
        var (method, result) = results[chosen];
        var point = result.Curve.PointAtLikedRate(EvalReport.HeadlineLikedRate)!;
        string parameters = method.Detail is { Length: > 0 } d && method.Kind == MethodKind.Profile ? d : "fixed";
        return (method, new ValidationChoice(parameters, point.Threshold, point.DislikedRejectRate, point.LikedRejectRate, split.ValidationCases.Count));
    }
}
