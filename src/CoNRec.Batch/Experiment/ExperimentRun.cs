using System.Text.Json;
using CoNRec.Batch.Progress;
using CoNRec.Model.Bundle;
using CoNRec.Core;
using CoNRec.Model.RqVae;
using CoNRec.Model.Training;
using CoNRec.Offline.Data;
using CoNRec.Offline.Embeddings;
using CoNRec.Offline.Evaluation;

namespace CoNRec.Batch.Experiment;

/// <summary>What a run leaves behind for the demo's serving half and for reports.</summary>
public sealed record ExperimentResult(
    InteractionDataset Dataset,
    TemporalSplit Split,
    ItemEmbeddings Embeddings,
    string CodebookPath,
    Codebook Codebook,
    IReadOnlyDictionary<string, ulong> Catalog,
    string BundleDirectory,
    EvalReport? Report,
    FilterEvaluation.ServedConfiguration? Served,
    DatasetStatistics? Statistics)
{
    /// <summary>The threshold the demo serves at: chosen on validation cases; 1 (nothing scores above it) without any.</summary>
    public double ServedThreshold => Served?.Threshold ?? 1.0;

    public AblationReport? Ablation { get; init; }
    public TrainingSummary? Training { get; init; }
}

/// <summary>The offline pipeline shared by <c>eval</c> and <c>demo</c>; each stage reports wall time and peak memory.</summary>
public sealed class ExperimentRun(ExperimentOptions options, StageRunner stages)
{
    public const string ModelMethod = FilterEvaluation.ModelName;

    public ExperimentResult Run()
    {
        var o = options;
        Directory.CreateDirectory(o.OutputDirectory);
        string Out(string name) => Path.Combine(o.OutputDirectory, name);

        var dataset = stages.Run("data", s =>
        {
            var ds = LoadDataset(o);
            if (o.Source != DataSource.MovieLens) DatasetFiles.Save(ds, Out("dataset")); // MovieLens may not be redistributed: keep only derived files
            int users = ds.Interactions.Select(x => x.UserId).Distinct().Count();
            int negatives = ds.Interactions.Count(x => x.IsNegative), positives = ds.Interactions.Count(x => x.IsPositive);
            s.Detail = $"{ds.Name}: {users} users, {ds.Items.Count} items, {ds.Interactions.Count} interactions ({negatives} negative, {positives} positive)";
            return ds;
        });

        var split = stages.Run("split", s =>
        {
            if (o.TrainOnly)
            {
                var all = TemporalSplit.TrainOnly(dataset);
                s.Detail = $"train: all {all.Train.Count} interactions (nothing held out for testing; validation users come from the examples)";
                return all;
            }
            var sp = TemporalSplit.Create(dataset, o.Split);
            if (sp.Cases.Count == 0)
                throw new InvalidOperationException($"the {o.Split.Protocol} split found no test case (a user window with a future negative and {o.Split.MinPastNegatives} earlier ones); " +
                                                    "try --split per-user, or a longer --test-days / --window-days");
            s.Detail = sp.Describe();
            return sp;
        });

        var embeddings = stages.Run("embeddings", s =>
        {
            ItemEmbeddings e;
            if (o.EmbeddingsFile is { } file)
            {
                e = EmbeddingsFile.Load(file);
                var missing = dataset.Items.Count(i => !e.TryGet(i.ItemId, out _));
                if (missing > 0) throw new FormatException($"{file}: {missing} of the dataset's {dataset.Items.Count} items have no embedding");
            }
            else
            {
                e = ItemEmbedder.Build(dataset.Items, split.Train, o.Embedder);
                EmbeddingsFile.Save(e, Out("embeddings.jsonl"));
            }
            s.Detail = $"{e.ItemIds.Count} items × {e.Dimension} dims{(o.EmbeddingsFile is null ? " (feature encoder, training interactions only)" : " (user file)")}";
            return e;
        });

        var (codebookPath, codebook, catalog, rqvae) = stages.Run("rq-vae", s =>
        {
            var progress = s.Counter(o.RqVae.Epochs, "epochs");
            using var result = RqVaeTrainer.Train(embeddings.Matrix, embeddings.ItemIds.Count, embeddings.Dimension, o.RqVae,
                new SyncProgress<(int Epoch, double Loss)>(p => progress.Report(p.Epoch))); // the trainer reports 1-based epochs
            string path = Out("codebook.safetensors");
            result.ExportCodebook(path);
            result.ExportCatalog(Out("catalog.jsonl"), embeddings.ItemIds);
            var summary = RqVaeSummary.Of(result);
            File.WriteAllText(Out("rqvae.json"), JsonSerializer.Serialize(summary, JsonOptions));
            var cb = Codebook.Load(path);
            var cat = new Dictionary<string, ulong>(StringComparer.Ordinal);
            for (int i = 0; i < embeddings.ItemIds.Count; i++) cat[embeddings.ItemIds[i]] = cb.Layout.Pack(result.Sids[i]);
            s.Detail = summary.Line;
            return (path, cb, (IReadOnlyDictionary<string, ulong>)cat, summary);
        });

        TrainingSummary? training = null;
        CasePredictor.Result? predicted = null;
        string bundleDir = o.TrainOnly && o.BundleOutput is not null ? o.BundleOutput : Out("bundle");
        if (o.Ablation)
        {
            var ablation = RunAblation(dataset, split, codebookPath, codebook, catalog);
            File.WriteAllText(Out("ablation.txt"), ablation.FormatTable());
            ablation.WriteJson(Out("ablation.json"));
            return new ExperimentResult(dataset, split, embeddings, codebookPath, codebook, catalog, bundleDir, null, null, null) { Ablation = ablation };
        }
        if (!o.SkipModel)
        {
            var data = stages.Run("examples", s => BuildExamples(split, s));
            training = TrainBundle("fine-tune", bundleDir, o.FineTune with { Grpo = o.Grpo ? o.GrpoOptions : null }, codebookPath, codebook, catalog, data);
            if (o.TrainOnly)
            {
                stages.Run("bundle", s => { s.Detail = $"{Path.GetFullPath(bundleDir)}: generate --bundle loads it unchanged"; return 0; });
                return new ExperimentResult(dataset, split, embeddings, codebookPath, codebook, catalog, bundleDir, null, null, null) { Training = training };
            }
            predicted = stages.Run("predict", s => PredictCases(bundleDir, split, s));
            WritePredictions(Out("eval_predictions.jsonl"), split.Cases, predicted.Predictions, codebook.Layout);
        }

        var (report, served, statistics) = stages.Run("evaluate", s =>
        {
            var evaluator = new Evaluator(codebook, catalog, o.Eval);
            var outcome = new FilterEvaluation(evaluator, split, dataset, catalog)
                .Run($"CoNRec evaluation on {dataset.Name}", predicted is null ? null : c => predicted.Predictions[c], o.Profiles, o.Resamples, o.Eval.Seed, o.Eval.K);
            var stats = DatasetStatistics.Compute(dataset, split.Cases);
            var rep = outcome.Report;
            rep.Extras["rqvae"] = rqvae;
            if (training is not null) rep.Extras["training"] = training;
            rep.Extras["dataset_statistics"] = stats;
            rep.Extras["served_configuration"] = outcome.Served;
            // generate stores what the served row was evaluated with: N recent negatives, M recent positives.
            if (!o.SkipModel) BundleProfile.Write(bundleDir, outcome.Served.RecentNegatives, outcome.Served.RecentPositives);
            s.Detail = $"{rep.Rows.Count} methods, {o.Resamples} bootstrap resamples; served: N={outcome.Served.RecentNegatives}, guard {outcome.Served.GuardWeight}, threshold {outcome.Served.Threshold?.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture) ?? "n/a (no validation cases)"}";
            return (rep, outcome.Served, stats);
        });

        report.Extras["stages"] = stages.Timings.Select(t => new { t.Stage, wall_s = Math.Round(t.Wall.TotalSeconds, 2), peak_rss_mib = t.PeakRssBytes >> 20, t.Detail }).ToList();
        report.WriteJson(Out("eval.json"));
        EvalPlots.Write(report, o.OutputDirectory);
        return new ExperimentResult(dataset, split, embeddings, codebookPath, codebook, catalog, bundleDir, report, served, statistics);
    }

    private TrainingData BuildExamples(TemporalSplit split, StageContext s)
    {
        var swing = SwingIndex.Build(split.Train.Where(x => x.IsNegative).Select(x => (x.UserId, x.ItemId)), options.Swing);
        var td = TrainingData.Build(split.Train, swing, options.TrainingData);
        s.Detail = $"{td.Train.Count} next-items examples (+{td.SwingAdded} Swing targets), {td.Validation.Count} validation, {td.Alignment.Count} alignment, {td.GrpoTrain.Count} GRPO prompts";
        return td;
    }

    /// <summary>The one training path: <c>train</c>, <c>eval</c>, the demo and every ablation row go through it.</summary>
    private TrainingSummary TrainBundle(string stageName, string bundleDir, FineTuneOptions fineTune, string codebookPath, Codebook codebook,
        IReadOnlyDictionary<string, ulong> catalog, TrainingData data) => stages.Run(stageName, s =>
    {
        ProgressReporter? bar = null;
        using var result = FineTuner.Train(bundleDir, codebook, codebookPath, catalog, data.Train, data.Validation, data.Alignment, fineTune,
            new SyncProgress<TrainProgress>(p =>
            {
                bar ??= s.Bar(p.TotalSteps, "steps");
                bar.Advance(Math.Max(0, p.Step - bar.Count));
            }), data.GrpoTrain, data.GrpoValidation);
        var summary = TrainingSummary.Of(result);
        var grpo = result.GrpoSteps.GroupBy(x => x.Stage).Select(g => (result.GrpoStages[g.Key].Stage.Context.ToString(), (IReadOnlyList<double>)[.. g.Select(x => x.RewardMean)])).ToList();
        LossPlot.Write([.. result.Stages.Select(st => (st.Context.ToString(), st.StepLosses, st.ValidationLoss))], bundleDir == Path.Combine(options.OutputDirectory, "bundle") ? options.OutputDirectory : bundleDir, grpo: grpo);
        s.Detail = summary.Line;
        return summary;
    });

    private CasePredictor.Result PredictCases(string bundleDir, TemporalSplit split, StageContext s)
    {
        // Validation cases too: thresholds and profile parameters are chosen on them, never on test cases.
        var cases = split.Cases.Concat(split.ValidationCases).ToList();
        var r = CasePredictor.Predict(bundleDir, cases, options.GenerateBatchSize, options.Device, s.Counter(cases.Count, "cases"));
        s.Detail = $"{split.Cases.Count} test + {split.ValidationCases.Count} validation cases, {r.EmptyPrompts} without a usable prompt; prefill {r.Prefill.TotalSeconds:F1} s, decode {r.Decode.TotalSeconds:F1} s";
        return r;
    }

    /// <summary>
    /// The paper's Table 2 on this data: 1 SFT next-items, 2 + alignment, 3 + progressive GRPO with a next-negative reward,
    /// 4 + the 7-day Swing-expanded reward, 5 + the future-positive penalty; rows 3-5 start from row 2's SFT model.
    /// Plus SASRec over the negative sequence as a learned non-LLM peer. Same split, same cases, same protocol.
    /// </summary>
    private AblationReport RunAblation(InteractionDataset dataset, TemporalSplit split, string codebookPath, Codebook codebook, IReadOnlyDictionary<string, ulong> catalog)
    {
        var o = options;
        var data = stages.Run("examples", s => BuildExamples(split, s));
        string Dir(int row) => Path.Combine(o.OutputDirectory, $"ablation-row{row}");
        var entries = new List<AblationEvaluation.Entry>();
        var g = o.GrpoOptions;
        var rows = new (string Name, string Detail, FineTuneOptions FineTune)[]
        {
            ("1 SFT next-items", "no alignment, no GRPO", o.FineTune with { AlignmentWeight = 0, Grpo = null }),
            ("2 + alignment", "item-level alignment mixed into SFT", o.FineTune with { Grpo = null }),
            ("3 + GRPO, next-negative reward", "from row 2; GTS = the next negative, no penalty",
                o.FineTune with { InitialModel = Path.Combine(Dir(2), FineTuner.ModelDirectory), SkipSft = true, Grpo = g with { Target = RewardTarget.NextNegative, Gamma = 0 } }),
            ("4 + 7-day Swing reward", "from row 2; GTS = 7-day negatives + Swing, no penalty",
                o.FineTune with { InitialModel = Path.Combine(Dir(2), FineTuner.ModelDirectory), SkipSft = true, Grpo = g with { Target = RewardTarget.SevenDaySwing, Gamma = 0 } }),
            ("5 + future-positive penalty", $"from row 2; 7-day Swing GTS, gamma {g.Gamma.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)} on 7-day positives",
                o.FineTune with { InitialModel = Path.Combine(Dir(2), FineTuner.ModelDirectory), SkipSft = true, Grpo = g with { Target = RewardTarget.SevenDaySwing } }),
        };
        for (int i = 0; i < rows.Length; i++)
        {
            var (name, detail, fineTune) = rows[i];
            var clock = System.Diagnostics.Stopwatch.StartNew();
            TrainBundle($"row {i + 1}", Dir(i + 1), fineTune, codebookPath, codebook, catalog, data);
            double seconds = clock.Elapsed.TotalSeconds;
            var predictions = stages.Run($"row {i + 1} predict", s => PredictCases(Dir(i + 1), split, s)).Predictions;
            entries.Add(new AblationEvaluation.Entry(name, detail, c => predictions[c], seconds));
        }
        entries.Add(stages.Run("SASRec", s => SasRecPeer.Train(split, catalog, codebook.Layout, o.SasRec, s)));

        return stages.Run("ablation evaluate", s =>
        {
            var evaluator = new Evaluator(codebook, catalog, o.Eval);
            var report = AblationEvaluation.Run($"Ablation on {dataset.Name}", evaluator, split, dataset, catalog, entries, o.Profiles, o.Resamples, o.Eval.Seed, o.Eval.K);
            s.Detail = $"{report.Rows.Count} rows, {report.Differences.Count} paired differences";
            return report;
        });
    }

    public static InteractionDataset LoadDataset(ExperimentOptions o) => o.Source switch
    {
        DataSource.Synthetic => SyntheticGenerator.Generate(o.Synthetic),
        DataSource.MovieLens => MovieLensImporter.Import(Require(o.InputDirectory, "--movielens")),
        _ => DatasetFiles.Load(Require(o.InputDirectory, "--dataset")),
    };

    private static string Require(string? value, string flag) => value ?? throw new ArgumentException($"{flag} DIR is required for this data source");

    private static void WritePredictions(string path, IReadOnlyList<EvalCase> cases, Dictionary<EvalCase, ulong[]> predictions, SidLayout layout)
    {
        using var w = new StreamWriter(path);
        foreach (var c in cases)
        {
            var sids = predictions[c].Select(p => { var codes = new uint[layout.Levels]; layout.Unpack(p, codes); return codes; });
            w.WriteLine(JsonSerializer.Serialize(new { user_id = c.UserId, at = c.At, sids }));
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
}

/// <summary>IProgress that reports on the caller's thread (System.Progress would post to the thread pool).</summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
