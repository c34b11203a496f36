using CoNRec.Model.Prompting;
using CoNRec.Model.RqVae;
using CoNRec.Model.Training;
using CoNRec.Offline.Data;
using CoNRec.Offline.Embeddings;
using CoNRec.Offline.Evaluation;

namespace CoNRec.Batch.Experiment;

/// <summary>
/// Default sizes for the demo (synthetic, minutes on 2 cores), its CI-sized variant (<c>--quick</c>), and MovieLens.
/// Every figure in the README comes from these defaults, so changing one means re-measuring.
/// </summary>
public static class Presets
{
    public static SyntheticSpec Synthetic(CommandLine cl, bool quick)
    {
        var d = quick ? new SyntheticSpec { Users = 300, Items = 400, Days = 45 } : new SyntheticSpec();
        return d with
        {
            Users = cl.Int("--users", d.Users, 10, 10_000_000), Items = cl.Int("--items", d.Items, 10, 10_000_000),
            Days = cl.Int("--days", d.Days, 36, 3650), Seed = cl.Int("--seed", d.Seed, 0, int.MaxValue),
            Model = cl.Get("--synthetic") switch
            {
                null or "attributes" => SyntheticModel.Attributes,
                "categories" => SyntheticModel.Categories,
                var v => throw new UsageException($"option --synthetic = '{v}' must be 'attributes' or 'categories'"),
            },
        };
    }

    private static FineTuneOptions FineTune(CommandLine cl, bool quick, int seed, int defaultEpochs)
    {
        int epochs = cl.Int("--epochs", quick ? 1 : defaultEpochs, 1, 1000);
        var d = new FineTuneOptions();
        return d with
        {
            Seed = seed,
            HiddenSize = cl.Int("--hidden", quick ? 64 : d.HiddenSize, 16, 8192),
            Layers = cl.Int("--layers", d.Layers, 1, 128),
            IntermediateSize = 2 * cl.Int("--hidden", quick ? 64 : d.HiddenSize, 16, 8192),
            LearningRate = cl.Double("--lr", d.LearningRate, 1e-6, 1),
            // The progressive context schedule: 3-day negatives → all negatives → negatives + positives.
            Stages =
            [
                new FineTuneStage(PromptContext.RecentNegatives, Epochs: epochs),
                new FineTuneStage(PromptContext.AllNegatives, Epochs: epochs),
                new FineTuneStage(PromptContext.NegativesAndPositives, Epochs: epochs),
            ],
        };
    }

    /// <summary>
    /// The split, with a per-dataset default protocol. Synthetic data share one calendar and every user is active in the last
    /// weeks, so one global test period gives many cases and mimics a nightly job. MovieLens and user datasets rate in
    /// bursts years apart (MovieLens: 84 test cases in a global 28-day period), so each user's own last window is the test.
    /// </summary>
    public static SplitOptions Split(CommandLine cl, DataSource source)
    {
        var protocol = cl.Get("--split") switch
        {
            null => source == DataSource.Synthetic ? SplitProtocol.Global : SplitProtocol.PerUser,
            "global" => SplitProtocol.Global,
            "per-user" => SplitProtocol.PerUser,
            var v => throw new UsageException($"option --split = '{v}' must be 'global' or 'per-user'"),
        };
        var d = new SplitOptions();
        double window = cl.Double("--window-days", d.WindowDays, 0.001, 3650);
        return new SplitOptions
        {
            Protocol = protocol,
            TestDays = cl.Double("--test-days", d.TestDays, 0.001, 36500),
            WindowDays = window,
            ValidationDays = cl.Double("--validation-days", window, 0, 36500),
            MinPastNegatives = cl.Int("--min-past-negatives", d.MinPastNegatives, 0, 1000),
        };
    }

    public static ExperimentOptions FromCommandLine(CommandLine cl, string defaultOut)
    {
        bool quick = cl.Flag("--quick");
        string? movielens = cl.Get("--movielens"), dataset = cl.Get("--dataset");
        if (movielens is not null && dataset is not null) throw new UsageException("give --movielens or --dataset, not both");
        var source = movielens is not null ? DataSource.MovieLens : dataset is not null ? DataSource.Dataset : DataSource.Synthetic;
        int seed = cl.Int("--seed", 7, 0, int.MaxValue);
        var options = new ExperimentOptions
        {
            Source = source,
            InputDirectory = movielens ?? dataset,
            Synthetic = Synthetic(cl, quick),
            EmbeddingsFile = cl.Get("--embeddings"),
            Embedder = new ItemEmbedderOptions
            {
                TextWeight = (float)cl.Double("--text-weight", 1.0, 0, 10),
                NegativeCollaborativeWeight = (float)cl.Double("--codislike-weight", new ItemEmbedderOptions().NegativeCollaborativeWeight, 0, 10),
            },
            OutputDirectory = cl.Get("--out") ?? defaultOut,
            Device = cl.Get("--device") ?? "cpu",
            Terminal = cl.Flag("--no-progress-bar") ? false : null,
            RqVae = new RqVaeOptions
            {
                Seed = seed, Epochs = cl.Int("--rqvae-epochs", quick ? 100 : 400, 1, 100_000), BatchSize = cl.Int("--rqvae-batch", 64, 1, 65_536),
                CodesPerLevel = cl.Int("--codes", 32, 2, 4096), LatentDim = cl.Int("--latent", 32, 2, 4096),
                Beta = cl.Double("--rqvae-beta", new RqVaeOptions().Beta, 0, 100),
                LearningRate = cl.Double("--rqvae-lr", new RqVaeOptions().LearningRate, 1e-6, 1),
                ResetDeadCodes = cl.Get("--rqvae-reset") is not "off",
                Disambiguate = cl.Get("--disambiguate") switch
                {
                    null or "on" => true,
                    "off" => false,
                    var v => throw new UsageException($"option --disambiguate = '{v}' must be 'on' or 'off'"),
                },
            },
            // MovieLens yields ~4× the synthetic demo's sequences (long rating sessions): one epoch per stage keeps it near 10 minutes.
            FineTune = FineTune(cl, quick, seed, defaultEpochs: movielens is not null ? 1 : 3),
            TrainingData = new TrainingDataOptions { Seed = seed },
            Eval = new EvalOptions { Seed = seed },
            Split = Split(cl, source),
            Resamples = cl.Int("--resamples", 1000, 1, 100_000),
            SkipModel = cl.Flag("--skip-model"),
        };
        return options;
    }
}
