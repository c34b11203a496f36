using CoNRec.Batch.Demo;
using CoNRec.Offline.Data;

namespace CoNRec.Batch.Experiment;

/// <summary>The offline commands: synth, import-movielens, eval, demo.</summary>
public static class ExperimentCli
{
    public const string Help = """
          synth        --out DIR [--users N] [--items N] [--days N] [--seed S]
                       Writes a deterministic synthetic dataset (items.jsonl, interactions.jsonl) in the generic format.
          import-movielens --dir ML100K --out DIR
                       Converts MovieLens 100K (u.data, u.item) to the generic format (ratings ≤ 2 negative, ≥ 4 positive).
          eval         [--movielens DIR | --dataset DIR] [--embeddings F] [--out DIR] [--quick] [--seed S] [--device cpu|cuda]
                       The offline pipeline: temporal split → embeddings → RQ-VAE → fine-tune → predictions → HR/FHR/LUF/LIF@20,
                       Candidate Acc and the filter operating curve, with three baselines. Prints the table; writes eval.json
                       and PNG plots. Without --movielens/--dataset it runs on synthetic data.
          demo         [--out DIR] [--quick] [--seed S]
                       The whole loop on synthetic data: eval, then the filter service with embedded Garnet, generate,
                       publish, threshold set through the admin API, and FilterCandidates calls printed with reasons.
        """;

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
        stdout.WriteLine("Stages (wall time, peak RSS of the stage):");
        stdout.WriteLine(stages.FormatTable());
        stdout.WriteLine($"Artefacts in {Path.GetFullPath(options.OutputDirectory)}: eval.json, operating_curves.png, metrics.png, training_loss.png, bundle/");
        return BatchCli.Ok;
    }

    public static async Task<int> DemoAsync(CommandLine cl, TextWriter stdout, TextWriter stderr)
    {
        if (cl.Get("--movielens") is not null || cl.Get("--dataset") is not null)
            throw new UsageException("demo runs on synthetic data; use eval for --movielens/--dataset");
        var options = Presets.FromCommandLine(cl, defaultOut: "conrec-demo");
        cl.EnsureAllUsed();
        await new DemoCommand(options, stdout, stderr).RunAsync();
        return BatchCli.Ok;
    }
}
