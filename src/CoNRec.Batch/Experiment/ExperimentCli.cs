using System.CommandLine;
using CoNRec.Batch.Cli;
using CoNRec.Offline.Data;
using CoNRec.Offline.Evaluation;

namespace CoNRec.Batch.Experiment;

/// <summary>The offline commands: stats, synth, import-movielens, eval.</summary>
public static class ExperimentCli
{
    public static IEnumerable<Command> Commands(TextWriter stdout, TextWriter stderr)
    {
        var stats = new Presets("conrec-stats");
        var statsCommand = new Command("stats", "The dataset's statistics on the split (share of negatives, the category rule's precision and liked-drop rate, how often the top-4 negative interests cover the next negative and the next window), without training anything.");
        statsCommand.With(stats.MovieLens, stats.Dataset, stats.Quick, stats.Seed, stats.Users, stats.Items, stats.Days, stats.Synthetic, stats.Split,
            stats.TestDays, stats.WindowDays, stats.ValidationDays, stats.MinPastNegatives);
        statsCommand.SetAction(r =>
        {
            var options = stats.Read(r);
            var dataset = ExperimentRun.LoadDataset(options);
            var split = TemporalSplit.Create(dataset, options.Split);
            stdout.WriteLine(split.Describe());
            stdout.WriteLine(DatasetStatistics.Compute(dataset, split.Cases).Line);
            return CliRunner.Ok;
        });
        yield return statsCommand;

        var synth = new Presets("unused");
        var synthOut = Opt.String("--out", "directory for items.jsonl and interactions.jsonl", required: true, helpName: "DIR");
        var synthCommand = synth.AddSyntheticTo(new Command("synth", "Writes a deterministic synthetic dataset in the generic format.")).With(synthOut);
        synthCommand.SetAction(r =>
        {
            var dir = r.GetValue(synthOut)!;
            DatasetFiles.Save(SyntheticGenerator.Generate(synth.ReadSynthetic(r)), dir);
            stdout.WriteLine(dir);
            return CliRunner.Ok;
        });
        yield return synthCommand;

        var dir = Opt.String("--dir", "the MovieLens 100K directory (u.data, u.item)", required: true, helpName: "DIR");
        var importOut = Opt.String("--out", "directory for the generic format", required: true, helpName: "DIR");
        var import = new Command("import-movielens", "Converts MovieLens 100K to the generic format (ratings <= 2 negative, >= 4 positive, 3 neutral).").With(dir, importOut);
        import.SetAction(r =>
        {
            var ds = MovieLensImporter.Import(r.GetValue(dir)!);
            DatasetFiles.Save(ds, r.GetValue(importOut)!);
            stderr.WriteLine($"{ds.Items.Count} items, {ds.Interactions.Count} interactions ({ds.Interactions.Count(x => x.IsNegative)} negative, {ds.Interactions.Count(x => x.IsPositive)} positive)");
            stdout.WriteLine(r.GetValue(importOut));
            return CliRunner.Ok;
        });
        yield return import;

        var train = new Presets("conrec-bundle");
        var trainCommand = train.AddTo(new Command("train",
            "Trains a generator bundle that `generate --bundle` serves: every interaction of the data is training data (validation users held out " +
            "by hash), then item embeddings, RQ-VAE, SFT with alignment and, by default, progressive GRPO. With --base, LoRA on that checkpoint " +
            "(PEFT adapter in the bundle). --out is the bundle directory; intermediate artefacts go to its work/ folder. `eval` trains the same way."));
        trainCommand.SetAction(r =>
        {
            var options = train.Read(r);
            string bundle = options.OutputDirectory;
            options = options with { TrainOnly = true, BundleOutput = bundle, OutputDirectory = Path.Combine(bundle, "work") };
            if (options.SkipModel) throw new UsageException("train --skip-model trains nothing");
            var stages = new StageRunner(stderr, options.Terminal);
            var result = new ExperimentRun(options, stages).Run();
            stdout.WriteLine(Path.GetFullPath(result.BundleDirectory));
            stderr.WriteLine(stages.FormatTable());
            return CliRunner.Ok;
        });
        yield return trainCommand;

        var eval = new Presets("conrec-eval");
        var evalCommand = eval.AddTo(new Command("eval",
            "The offline pipeline: split, item embeddings, RQ-VAE, fine-tuning, predictions, then HR/FHR/LUF/LIF@20, Candidate Acc and the filter's " +
            "operating curves for the model, every part of the served profile, three baselines and two rules, with 95% bootstrap intervals over users " +
            "and paired differences. Thresholds and profile parameters are chosen on validation cases only. Without --movielens/--dataset it runs on " +
            "synthetic data. Prints the tables; writes eval.json and PNG plots. --ablation runs the paper's Table 2 instead.")).With(eval.Ablation);
        evalCommand.SetAction(r =>
        {
            var options = eval.Read(r);
            var stages = new StageRunner(stderr, options.Terminal);
            var result = new ExperimentRun(options, stages).Run();
            if (result.Ablation is { } ablation)
            {
                stdout.WriteLine(ablation.FormatTable());
                stdout.WriteLine("Stages (wall time, peak RSS of the stage):");
                stdout.WriteLine(stages.FormatTable());
                stdout.WriteLine($"Artefacts in {Path.GetFullPath(options.OutputDirectory)}: ablation.txt, ablation.json, ablation-row*/");
                return CliRunner.Ok;
            }
            stdout.WriteLine(result.Report!.FormatTable());
            stdout.WriteLine("Dataset statistics (test cases): " + result.Statistics!.Line);
            stdout.WriteLine("Stages (wall time, peak RSS of the stage):");
            stdout.WriteLine(stages.FormatTable());
            stdout.WriteLine($"Artefacts in {Path.GetFullPath(options.OutputDirectory)}: eval.json, operating_curves.png, operating_curves_low.png, metrics.png{(options.SkipModel ? "" : ", training_loss.png, bundle/")}");
            return CliRunner.Ok;
        });
        yield return evalCommand;
    }
}
