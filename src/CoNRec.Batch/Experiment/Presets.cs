using System.CommandLine;
using CoNRec.Batch.Cli;
using CoNRec.Model.Prompting;
using CoNRec.Model.RqVae;
using CoNRec.Model.Training;
using CoNRec.Offline.Data;
using CoNRec.Offline.Embeddings;
using CoNRec.Offline.Evaluation;

namespace CoNRec.Batch.Experiment;

/// <summary>
/// The options of the offline pipeline (<c>eval</c>, <c>stats</c>, <c>synth</c>, the demo), declared once with their
/// defaults and ranges. Defaults are sized for the demo (synthetic, minutes on 2 cores), its CI-sized variant
/// (<c>--quick</c>), and MovieLens; every figure in the README comes from them, so changing one means re-measuring.
/// </summary>
public sealed class Presets
{
    public Option<string?> MovieLens { get; } = Opt.String("--movielens", "MovieLens 100K directory (u.data, u.item); the data are read, never copied", helpName: "DIR");
    public Option<string?> Dataset { get; } = Opt.String("--dataset", "a dataset in the generic format (items.jsonl, interactions.jsonl)", helpName: "DIR");
    public Option<string?> Embeddings { get; } = Opt.String("--embeddings", "item embeddings JSONL ({\"item_id\", \"embedding\"}) instead of the built-in encoder", helpName: "FILE");
    public Option<bool> Quick { get; } = Opt.Flag("--quick", "CI-sized run: smaller data, model and epochs");
    public Option<int> Seed { get; } = Opt.Int("--seed", "seed of the data, the models and the evaluation draws", 7, 0, int.MaxValue);
    public Option<string> Device { get; } = Opt.Choice("--device", "where models train and generate", "cpu", "cpu", "cuda");
    public Option<bool> NoProgressBar { get; } = Opt.Flag("--no-progress-bar", "plain log lines instead of a progress bar");
    // synthetic data
    public Option<int?> Users { get; } = Opt.OptionalInt("--users", "synthetic users (default 1500; 300 with --quick)", 10, 10_000_000);
    public Option<int?> Items { get; } = Opt.OptionalInt("--items", "synthetic items (default 1200; 400 with --quick)", 10, 10_000_000);
    public Option<int?> Days { get; } = Opt.OptionalInt("--days", "synthetic days (default 60; 45 with --quick)", 36, 3650);
    public Option<string> Synthetic { get; } = Opt.Choice("--synthetic", "synthetic story: dislikes of attributes across categories, or of whole categories (the earlier generator)", "attributes", "attributes", "categories");
    // split
    public Option<string?> Split { get; } = Opt.OptionalChoice("--split", "global: one test period in rolling windows; per-user: each user's last window (default: global for synthetic data, per-user otherwise)", "global", "per-user");
    public Option<double> TestDays { get; } = Opt.Double("--test-days", "global split: the test period", 28, 0.001, 36500);
    public Option<double> WindowDays { get; } = Opt.Double("--window-days", "ground-truth horizon of a case (the paper's 7 days)", 7, 0.001, 3650);
    public Option<double?> ValidationDays { get; } = Opt.OptionalDouble("--validation-days", "global split: the validation period before the test period (default: one window; 0 disables)", 0, 36500);
    public Option<int> MinPastNegatives { get; } = Opt.Int("--min-past-negatives", "a case needs this many negatives before its window", 1, 0, 1000);
    public Option<int> Resamples { get; } = Opt.Int("--resamples", "bootstrap resamples over users for every interval", 1000, 1, 100_000);
    // embeddings
    public Option<double> TextWeight { get; } = Opt.Double("--text-weight", "weight of the title block in the item encoder", 1, 0, 10);
    public Option<double> CodislikeWeight { get; } = Opt.Double("--codislike-weight", "weight of the co-dislike block in the item encoder", new ItemEmbedderOptions().NegativeCollaborativeWeight, 0, 10);
    // RQ-VAE
    public Option<int?> RqVaeEpochs { get; } = Opt.OptionalInt("--rqvae-epochs", "RQ-VAE epochs at most (default 400; 100 with --quick); held-out loss stops earlier", 1, 100_000);
    public Option<int> RqVaeBatch { get; } = Opt.Int("--rqvae-batch", "RQ-VAE batch size", 64, 1, 65_536);
    public Option<int> Codes { get; } = Opt.Int("--codes", "codes per RQ-VAE level (K)", 32, 2, 4096);
    public Option<int> Latent { get; } = Opt.Int("--latent", "RQ-VAE latent dimension (d)", 32, 2, 4096);
    public Option<double> RqVaeBeta { get; } = Opt.Double("--rqvae-beta", "weight of the commitment term (1 is the paper's Eq. 1)", new RqVaeOptions().Beta, 0, 100);
    public Option<double> RqVaeLr { get; } = Opt.Double("--rqvae-lr", "RQ-VAE learning rate", new RqVaeOptions().LearningRate, 1e-6, 1);
    public Option<string> RqVaeReset { get; } = Opt.Choice("--rqvae-reset", "move codes no item used onto random residuals after each epoch", "on", "on", "off");
    public Option<string> Disambiguate { get; } = Opt.Choice("--disambiguate", "append a level that makes colliding SIDs unique", "on", "on", "off");
    // fine-tuning
    public Option<int?> Epochs { get; } = Opt.OptionalInt("--epochs", "fine-tuning epochs per progressive stage (default 3; 1 on MovieLens and with --quick)", 1, 1000);
    public Option<int?> Hidden { get; } = Opt.OptionalInt("--hidden", "model hidden size (default 128; 64 with --quick)", 16, 8192);
    public Option<int> Layers { get; } = Opt.Int("--layers", "model layers", new FineTuneOptions().Layers, 1, 128);
    public Option<double> Lr { get; } = Opt.Double("--lr", "fine-tuning learning rate", new FineTuneOptions().LearningRate, 1e-6, 1);
    public Option<bool> SkipModel { get; } = Opt.Flag("--skip-model", "no fine-tuning: evaluate the profile without model SIDs and the baselines (seconds)");
    public Option<int> Patience { get; } = Opt.Int("--patience", "SFT: epochs without a better validation loss before a stage stops (its best epoch is kept)", new FineTuneOptions().Patience, 1, 1000);
    /// <summary>
    /// SFT alone by default: in the ablation (README) GRPO left FHR@20 unchanged and lowered the served profile's
    /// rejection on synthetic data, so it is offered, measured, and not switched on for users who did not ask for it.
    /// </summary>
    public Option<string> TrainStages { get; } = Opt.Choice("--stages", "what training runs: SFT only, or SFT then progressive GRPO (paper Eq. 3-6; see the README's ablation)", "sft", "sft", "sft,grpo");
    // LoRA on a base checkpoint
    public Option<string?> Base { get; } = Opt.String("--base", "a Hugging Face Qwen3 checkpoint to start from: its weights stay frozen, LoRA and the SID token rows train, the bundle holds a PEFT adapter", helpName: "MODEL_DIR");
    public Option<int> LoraRank { get; } = Opt.Int("--lora-r", "LoRA rank r (with --base)", new CoNRec.Model.Lora.LoraSettings().Rank, 1, 4096);
    public Option<double> LoraAlpha { get; } = Opt.Double("--lora-alpha", "LoRA alpha (scale alpha/r, or alpha/sqrt(r) with --rslora)", new CoNRec.Model.Lora.LoraSettings().Alpha, 1e-6, 1e6);
    public Option<double> LoraDropout { get; } = Opt.Double("--lora-dropout", "dropout on the LoRA input", new CoNRec.Model.Lora.LoraSettings().Dropout, 0, 0.99);
    public Option<bool> RsLora { get; } = Opt.Flag("--rslora", "rank-stabilised LoRA: scale alpha/sqrt(r)");
    public Option<string> LoraTargets { get; } = Opt.String("--lora-targets", "comma-separated modules LoRA adapts", string.Join(",", new CoNRec.Model.Lora.LoraSettings().TargetModules), helpName: "MODULES")!;
    // GRPO
    public Option<int?> GrpoSteps { get; } = Opt.OptionalInt("--grpo-steps", "GRPO steps per progressive stage at most (default 60; 15 with --quick); validation stops earlier", 1, 1_000_000);
    public Option<int> GrpoGroup { get; } = Opt.Int("--grpo-group", "rollouts per prompt (G)", new GrpoOptions().GroupSize, 2, 256);
    public Option<int> GrpoPrompts { get; } = Opt.Int("--grpo-prompts", "prompts per GRPO step", new GrpoOptions().PromptsPerStep, 1, 4096);
    public Option<double> GrpoGamma { get; } = Opt.Double("--grpo-gamma", "weight of the future-positive penalty in the reward (Eq. 6)", new GrpoOptions().Gamma, 0, 10);
    public Option<double> GrpoLr { get; } = Opt.Double("--grpo-lr", "GRPO learning rate", new GrpoOptions().LearningRate, 1e-8, 1);
    public Option<double> GrpoTemperature { get; } = Opt.Double("--grpo-temperature", "sampling temperature of the rollouts", new GrpoOptions().Temperature, 0.01, 100);
    public Option<int> GrpoEvalEvery { get; } = Opt.Int("--grpo-eval-every", "GRPO steps between validation-reward checks", new GrpoOptions().EvalEvery, 1, 100_000);
    public Option<double> GrpoBeta { get; } = Opt.Double("--grpo-beta", "KL weight of the first GRPO stage; the next stages use 2x and 4x (the context grows)", new GrpoOptions().Stages[0].Beta, 0, 10);
    public Option<string> GrpoValidation { get; } = Opt.Choice("--grpo-validation", "what GRPO's early stopping watches on validation prompts: FHR-style hits of the top-k, or the mean reward", "hits", "hits", "reward");
    public Option<string?> InitModel { get; } = Opt.String("--init-model", "start from this trained model directory (same codebook and shape) instead of random weights", helpName: "MODEL_DIR");
    public Option<bool> SkipSft { get; } = Opt.Flag("--skip-sft", "no SFT epochs (with --init-model: straight to GRPO)");
    public Option<bool> Ablation { get; } = Opt.Flag("--ablation", "the paper's Table 2 on this data: SFT, + alignment, + GRPO (next-negative reward), + 7-day Swing reward, + future-positive penalty, and SASRec; writes ablation.txt/json");
    public Option<string?> Out { get; }

    public Presets(string defaultOut) => Out = Opt.String("--out", "output directory for every artefact", defaultOut, helpName: "DIR");

    /// <summary>Every option of the pipeline, added to <paramref name="command"/>; <paramref name="dataSources"/> false for the demo (synthetic only).</summary>
    public T AddTo<T>(T command, bool dataSources = true) where T : Command
    {
        if (dataSources) command.With(MovieLens, Dataset);
        return command.With(Embeddings, Out, Quick, Seed, Device, NoProgressBar, Users, Items, Days, Synthetic, Split, TestDays, WindowDays, ValidationDays,
            MinPastNegatives, Resamples, TextWeight, CodislikeWeight, RqVaeEpochs, RqVaeBatch, Codes, Latent, RqVaeBeta, RqVaeLr, RqVaeReset, Disambiguate,
            Epochs, Hidden, Layers, Lr, SkipModel).With(TrainingOptions);
    }

    /// <summary>The training options shared by <c>train</c>, <c>eval</c> and the demo.</summary>
    public Option[] TrainingOptions => [Patience, TrainStages, Base, LoraRank, LoraAlpha, LoraDropout, RsLora, LoraTargets,
        GrpoSteps, GrpoGroup, GrpoPrompts, GrpoGamma, GrpoLr, GrpoTemperature, GrpoEvalEvery, GrpoBeta, GrpoValidation, InitModel, SkipSft];

    private CoNRec.Model.Lora.LoraSettings ReadLora(ParseResult r)
    {
        var targets = r.GetValue(LoraTargets)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var settings = new CoNRec.Model.Lora.LoraSettings
        {
            Rank = r.GetValue(LoraRank), Alpha = r.GetValue(LoraAlpha), Dropout = r.GetValue(LoraDropout), UseRsLora = r.GetValue(RsLora), TargetModules = targets,
        };
        try { settings.Validate(); }
        catch (ArgumentException e) { throw new UsageException("--lora-targets: " + e.Message); }
        return settings;
    }

    private GrpoOptions ReadGrpo(ParseResult r, bool quick, int seed)
    {
        int steps = r.GetValue(GrpoSteps) ?? (quick ? 15 : 60);
        var d = new GrpoOptions();
        return d with
        {
            GroupSize = r.GetValue(GrpoGroup), PromptsPerStep = r.GetValue(GrpoPrompts), Gamma = r.GetValue(GrpoGamma), LearningRate = r.GetValue(GrpoLr),
            Temperature = r.GetValue(GrpoTemperature), EvalEvery = Math.Min(r.GetValue(GrpoEvalEvery), steps), Seed = seed + 4,
            Validation = r.GetValue(GrpoValidation) == "reward" ? CoNRec.Model.Training.GrpoValidation.Reward : CoNRec.Model.Training.GrpoValidation.Hits,
            Stages = [.. d.Stages.Select((s, i) => s with { MaxSteps = steps, Beta = r.GetValue(GrpoBeta) * (1 << i) })],
        };
    }

    /// <summary>Only the synthetic generator's options (for <c>synth</c>).</summary>
    public T AddSyntheticTo<T>(T command) where T : Command => command.With(Users, Items, Days, Seed, Synthetic);

    public SyntheticSpec ReadSynthetic(ParseResult r)
    {
        bool quick = r.GetValue(Quick);
        var d = quick ? new SyntheticSpec { Users = 300, Items = 400, Days = 45 } : new SyntheticSpec();
        return d with
        {
            Users = r.GetValue(Users) ?? d.Users, Items = r.GetValue(Items) ?? d.Items, Days = r.GetValue(Days) ?? d.Days, Seed = r.GetValue(Seed),
            Model = r.GetValue(Synthetic) == "categories" ? SyntheticModel.Categories : SyntheticModel.Attributes,
        };
    }

    /// <summary>
    /// The split, with a per-dataset default protocol. Synthetic data share one calendar and every user is active in the
    /// last weeks, so one global test period gives many cases and mimics a nightly job. MovieLens and user datasets rate
    /// in bursts years apart (MovieLens: 84 test cases in a global 28-day period, 834 per user), so each user's own last
    /// window is the test.
    /// </summary>
    public SplitOptions ReadSplit(ParseResult r, DataSource source)
    {
        var protocol = r.GetValue(Split) switch
        {
            "global" => SplitProtocol.Global,
            "per-user" => SplitProtocol.PerUser,
            _ => source == DataSource.Synthetic ? SplitProtocol.Global : SplitProtocol.PerUser,
        };
        double window = r.GetValue(WindowDays);
        return new SplitOptions
        {
            Protocol = protocol, TestDays = r.GetValue(TestDays), WindowDays = window, ValidationDays = r.GetValue(ValidationDays) ?? window,
            MinPastNegatives = r.GetValue(MinPastNegatives),
        };
    }

    public ExperimentOptions Read(ParseResult r)
    {
        bool quick = r.GetValue(Quick);
        string? movielens = r.GetValue(MovieLens), dataset = r.GetValue(Dataset);
        if (movielens is not null && dataset is not null) throw new UsageException("give --movielens or --dataset, not both");
        var source = movielens is not null ? DataSource.MovieLens : dataset is not null ? DataSource.Dataset : DataSource.Synthetic;
        int seed = r.GetValue(Seed);
        // MovieLens yields ~4× the synthetic demo's sequences (long rating sessions): one epoch per stage keeps it near 10 minutes.
        int epochs = r.GetValue(Epochs) ?? (quick || movielens is not null ? 1 : 3);
        int hidden = r.GetValue(Hidden) ?? (quick ? 64 : new FineTuneOptions().HiddenSize);
        return new ExperimentOptions
        {
            Source = source,
            InputDirectory = movielens ?? dataset,
            Synthetic = ReadSynthetic(r),
            EmbeddingsFile = r.GetValue(Embeddings),
            Embedder = new ItemEmbedderOptions { TextWeight = (float)r.GetValue(TextWeight), NegativeCollaborativeWeight = (float)r.GetValue(CodislikeWeight) },
            OutputDirectory = r.GetValue(Out)!,
            Device = r.GetValue(Device)!,
            Terminal = r.GetValue(NoProgressBar) ? false : null,
            RqVae = new RqVaeOptions
            {
                Seed = seed, Epochs = r.GetValue(RqVaeEpochs) ?? (quick ? 100 : 400), BatchSize = r.GetValue(RqVaeBatch),
                CodesPerLevel = r.GetValue(Codes), LatentDim = r.GetValue(Latent), Beta = r.GetValue(RqVaeBeta), LearningRate = r.GetValue(RqVaeLr),
                ResetDeadCodes = r.GetValue(RqVaeReset) == "on", Disambiguate = r.GetValue(Disambiguate) == "on",
            },
            FineTune = new FineTuneOptions() with
            {
                Seed = seed, HiddenSize = hidden, IntermediateSize = 2 * hidden, Layers = r.GetValue(Layers), LearningRate = r.GetValue(Lr),
                Patience = r.GetValue(Patience), BaseModel = r.GetValue(Base), Lora = ReadLora(r), InitialModel = r.GetValue(InitModel), SkipSft = r.GetValue(SkipSft),
                // The progressive context schedule: 3-day negatives → all negatives → negatives + positives.
                Stages =
                [
                    new FineTuneStage(PromptContext.RecentNegatives, Epochs: epochs),
                    new FineTuneStage(PromptContext.AllNegatives, Epochs: epochs),
                    new FineTuneStage(PromptContext.NegativesAndPositives, Epochs: epochs),
                ],
            },
            TrainingData = new TrainingDataOptions { Seed = seed },
            Grpo = r.GetValue(TrainStages) == "sft,grpo",
            GrpoOptions = ReadGrpo(r, quick, seed),
            Ablation = r.GetResult(Ablation) is not null && r.GetValue(Ablation),
            Eval = new EvalOptions { Seed = seed },
            Split = ReadSplit(r, source),
            Resamples = r.GetValue(Resamples),
            SkipModel = r.GetValue(SkipModel),
        };
    }
}
