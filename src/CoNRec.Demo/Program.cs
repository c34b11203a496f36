using System.CommandLine;
using CoNRec.Batch.Cli;
using CoNRec.Batch.Experiment;
using CoNRec.Demo;

// The README's main job: `dotnet run -c Release --project src/CoNRec.Demo`.
var presets = new Presets("conrec-demo");
var root = presets.AddTo(new RootCommand(
    "The whole loop on synthetic data with embedded defaults: evaluation (split, embeddings, RQ-VAE, fine-tuning, baselines), then the filter " +
    "service with its embedded Garnet, the nightly generate and publish against it, the validation-chosen threshold and rule set through the admin " +
    "API, and FilterCandidates calls on test users' future items, printed with their decisions."), dataSources: false);
root.SetAction(async (r, ct) =>
{
    var options = presets.Read(r);
    if (options.SkipModel) throw new UsageException("the demo serves the model it trains; --skip-model is an eval option");
    await new DemoCommand(options, Console.Out, Console.Error).RunAsync();
    return CliRunner.Ok;
});
return await CliRunner.RunAsync(root, args, Console.Out, Console.Error);
