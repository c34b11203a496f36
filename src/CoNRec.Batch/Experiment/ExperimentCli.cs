using CoNRec.Batch.Demo;
using CoNRec.Offline.Data;
using CoNRec.Offline.Evaluation;

namespace CoNRec.Batch.Experiment;

/// <summary>The offline commands: synth, import-movielens, eval, demo.</summary>
public static class ExperimentCli
{
    public const string Help = """
          stats        [--movielens DIR | --dataset DIR] [--split global|per-user] [--test-days D] [--window-days D] [synthetic options]
                       The dataset's statistics on the split (negatives share, category rule precision and liked-drop rate,
                       top-4 negative interests' coverage of the next negative and of the next window), without training.
          synth        --out DIR [--users N] [--items N] [--days N] [--seed S] [--synthetic attributes|categories]
                       Writes a deterministic synthetic dataset (items.jsonl, interactions.jsonl) in the generic format.
          import-movielens --dir ML100K --out DIR
                       Converts MovieLens 100K (u.data, u.item) to the generic format (ratings ≤ 2 negative, ≥ 4 positive).
          eval         [--movielens DIR | --dataset DIR] [--embeddings F] [--out DIR] [--quick] [--seed S] [--device cpu|cuda]
                       [--split global|per-user] [--test-days 28] [--window-days 7] [--validation-days 7] [--min-past-negatives 1]
                       [--resamples 1000]
                       The offline pipeline: split → embeddings → RQ-VAE → fine-tune → predictions → HR/FHR/LUF/LIF@20,
                       Candidate Acc and the filter's operating curves for the model, every part of the served profile,
                       three baselines and two rules, with 95% bootstrap intervals over users and paired differences.
                       Thresholds and profile parameters are chosen on validation cases only. Default split: global for
                       synthetic data, per-user (each user's last window) for --movielens and --dataset. Prints the tables;
                       writes eval.json and PNG plots. Without --movielens/--dataset it runs on synthetic data.
          demo         [--out DIR] [--quick] [--seed S]
                       The whole loop on synthetic data: eval, then the filter service with embedded Garnet, generate,
                       publish, threshold set through the admin API, and FilterCandidates calls printed with reasons.
        """;

    /// <summary>The dataset's calibration statistics on a split, without training anything (seconds, not minutes).</summary>
    public static int Stats(CommandLine cl, TextWriter stdout)
    {
        var options = Presets.FromCommandLine(cl, defaultOut: "conrec-stats");
        cl.EnsureAllUsed();
        var dataset = ExperimentRun.LoadDataset(options);
        var split = TemporalSplit.Create(dataset, options.Split);
        stdout.WriteLine(split.Describe());
        stdout.WriteLine(DatasetStatistics.Compute(dataset, split.Cases).Line);
        return BatchCli.Ok;
    }

    public static int Synth(CommandLine cl, TextWriter stdout)
    {
        var dir = cl.Require("--out");
        var spec = Presets.Synthetic(cl, quick: false);
        cl.EnsureAllUsed();
        var ds = SyntheticGenerator.Generate(spec);
        DatasetFiles.Save(ds, dir);
        stdout.WriteLine(dir);
        return BatchCli.Ok;
    }

    public static int ImportMovieLens(CommandLine cl, TextWriter stdout, TextWriter stderr)
    {
        string dir = cl.Require("--dir"), output = cl.Require("--out");
        cl.EnsureAllUsed();
        var ds = MovieLensImporter.Import(dir);
        DatasetFiles.Save(ds, output);
        stderr.WriteLine($"{ds.Items.Count} items, {ds.Interactions.Count} interactions ({ds.Interactions.Count(x => x.IsNegative)} negative, {ds.Interactions.Count(x => x.IsPositive)} positive)");
        stdout.WriteLine(output);
        return BatchCli.Ok;
    }

    public static int Eval(CommandLine cl, TextWriter stdout, TextWriter stderr)
    {
        var options = Presets.FromCommandLine(cl, defaultOut: "conrec-eval");
        cl.EnsureAllUsed();
        var stages = new StageRunner(stderr, options.Terminal);
        var result = new ExperimentRun(options, stages).Run();
        stdout.WriteLine(result.Report.FormatTable());
        stdout.WriteLine("Dataset statistics (test cases): " + result.Statistics.Line);
        stdout.WriteLine("Stages (wall time, peak RSS of the stage):");
        stdout.WriteLine(stages.FormatTable());
        stdout.WriteLine($"Artefacts in {Path.GetFullPath(options.OutputDirectory)}: eval.json, operating_curves.png, operating_curves_low.png, metrics.png, training_loss.png, bundle/");
        return BatchCli.Ok;
    }

    public static async Task<int> DemoAsync(CommandLine cl, TextWriter stdout, TextWriter stderr)
    {
        if (cl.Get("--movielens") is not null || cl.Get("--dataset") is not null)
            throw new UsageException("demo runs on synthetic data; use eval for --movielens/--dataset");
        if (cl.Flag("--skip-model")) throw new UsageException("demo serves the model it trains; --skip-model is an eval option");
        var options = Presets.FromCommandLine(cl, defaultOut: "conrec-demo");
        cl.EnsureAllUsed();
        await new DemoCommand(options, stdout, stderr).RunAsync();
        return BatchCli.Ok;
    }
}
