using System.Text.Json;
using CoNRec.Batch.Progress;
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
    EvalReport Report,
    OperatingPoint? ServingPoint)
{
    /// <summary>The threshold the demo serves at; 1 (nothing scores above it) when the curve is empty.</summary>
    public double RecommendedThreshold => ServingPoint?.Threshold ?? 1.0;
}

/// <summary>The offline pipeline shared by <c>eval</c> and <c>demo</c>; each stage reports wall time and peak memory.</summary>
public sealed class ExperimentRun(ExperimentOptions options, StageRunner stages)
{
    public const string ModelMethod = "CoNRec (fine-tuned)";

    public ExperimentResult Run()
    {
        var o = options;
        Directory.CreateDirectory(o.OutputDirectory);
        string Out(string name) => Path.Combine(o.OutputDirectory, name);

        var dataset = stages.Run("data", s =>
        {
            var ds = o.Source switch
            {
                DataSource.Synthetic => SyntheticGenerator.Generate(o.Synthetic),
                DataSource.MovieLens => MovieLensImporter.Import(Require(o.InputDirectory, "--movielens")),
                _ => DatasetFiles.Load(Require(o.InputDirectory, "--dataset")),
            };
            if (o.Source != DataSource.MovieLens) DatasetFiles.Save(ds, Out("dataset")); // MovieLens may not be redistributed: keep only derived files
            int users = ds.Interactions.Select(x => x.UserId).Distinct().Count();
            int negatives = ds.Interactions.Count(x => x.IsNegative), positives = ds.Interactions.Count(x => x.IsPositive);
            s.Detail = $"{ds.Name}: {users} users, {ds.Items.Count} items, {ds.Interactions.Count} interactions ({negatives} negative, {positives} positive)";
            return ds;
        });

        var split = stages.Run("split", s =>
        {
            var sp = TemporalSplit.Create(dataset, o.Split);
            s.Detail = $"cut-off {sp.Cutoff:yyyy-MM-dd}, {sp.Train.Count} training interactions, {sp.Cases.Count} test cases ({o.Split.WindowDays}-day windows over the last {o.Split.TestDays} days)";
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
                new SyncProgress<(int Epoch, double Loss)>(p => progress.Report(p.Epoch + 1)));
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

        var data = stages.Run("examples", s =>
        {
            var swing = SwingIndex.Build(split.Train.Where(x => x.IsNegative).Select(x => (x.UserId, x.ItemId)), o.Swing);
            var td = TrainingData.Build(split.Train, swing, o.TrainingData);
            s.Detail = $"{td.Train.Count} next-items examples (+{td.SwingAdded} Swing targets), {td.Validation.Count} validation, {td.Alignment.Count} alignment";
            return td;
        });

        string bundleDir = Out("bundle");
        var training = stages.Run("fine-tune", s =>
        {
            ProgressReporter? bar = null;
            using var result = FineTuner.Train(bundleDir, codebook, codebookPath, catalog, data.Train, data.Validation, data.Alignment, o.FineTune,
                new SyncProgress<TrainProgress>(p =>
                {
                    bar ??= s.Bar(p.TotalSteps, "steps");
                    bar.Advance(Math.Max(0, p.Step - bar.Count));
                }));
            var summary = TrainingSummary.Of(result);
            LossPlot.Write([.. result.Stages.Select(st => (st.Context.ToString(), st.StepLosses, st.ValidationLoss))], o.OutputDirectory);
            s.Detail = summary.Line;
            return summary;
        });

        var predicted = stages.Run("predict", s =>
        {
            var r = CasePredictor.Predict(bundleDir, split.Cases, o.GenerateBatchSize, o.Device, s.Counter(split.Cases.Count, "cases"));
            WritePredictions(Out("eval_predictions.jsonl"), split.Cases, r.Predictions, codebook.Layout);
            s.Detail = $"{split.Cases.Count} cases, {r.EmptyPrompts} without a usable prompt; prefill {r.Prefill.TotalSeconds:F1} s, decode {r.Decode.TotalSeconds:F1} s";
            return r;
        });

        var (report, servingPoint) = stages.Run("evaluate", s =>
        {
            var evaluator = new Evaluator(codebook, catalog, o.Eval);
            var baselines = new Baselines(dataset, split, catalog, o.Eval.K);
            var rep = new EvalReport { Title = $"CoNRec evaluation on {dataset.Name}", K = o.Eval.K, CategoryRule = baselines.CategoryRulePoint() };
            rep.Add(evaluator.Evaluate(ModelMethod, split, c => predicted.Predictions[c]));
            foreach (var r in baselines.EvaluateAll(evaluator)) rep.Add(r);
            // The demo's starting threshold: the balanced point (most disliked minus liked rejected). The table also
            // reports the ≤ 5% liked point; an operator picks per scene with the admin tune endpoint.
            var point = rep.Curves[ModelMethod].Points.OrderByDescending(p => p.DislikedRejectRate - p.LikedRejectRate).ThenByDescending(p => p.Threshold).FirstOrDefault();
            rep.Extras["rqvae"] = rqvae;
            rep.Extras["training"] = training;
            s.Detail = $"{rep.Rows.Count} methods over {split.Cases.Count} cases";
            return (rep, point);
        });

        report.Extras["stages"] = stages.Timings.Select(t => new { t.Stage, wall_s = Math.Round(t.Wall.TotalSeconds, 2), peak_rss_mib = t.PeakRssBytes >> 20, t.Detail }).ToList();
        report.WriteJson(Out("eval.json"));
        EvalPlots.Write(report, o.OutputDirectory);
        return new ExperimentResult(dataset, split, embeddings, codebookPath, codebook, catalog, bundleDir, report, servingPoint);
    }

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
