using System.Globalization;
using CoNRec.Model.Prompting;

namespace CoNRec.Model.Training;

/// <summary>
/// Shape of the model trained from scratch and the schedule. Defaults give a ~0.5M-parameter Qwen3 (plus
/// embeddings) that trains on a CPU in minutes; <see cref="Validate"/> names the field and its limit.
/// </summary>
public sealed record FineTuneOptions
{
    public int HiddenSize { get; init; } = 128;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 2;
    public int HeadDim { get; init; } = 32;
    public int IntermediateSize { get; init; } = 256;
    public bool TieEmbeddings { get; init; } = true;
    /// <summary>Prompts are short (tens of tokens), so a smaller base than Qwen's 1e6 keeps every rotary pair useful.</summary>
    public double RopeTheta { get; init; } = 10_000;

    /// <summary>The progressive context schedule, in order; the bundle's prompt is the last stage's.</summary>
    public IReadOnlyList<FineTuneStage> Stages { get; init; } =
    [
        new(PromptContext.RecentNegatives, Epochs: 1, RecentDays: 3),
        new(PromptContext.AllNegatives, Epochs: 1),
        new(PromptContext.NegativesAndPositives, Epochs: 1),
    ];

    public int BatchSize { get; init; } = 32;
    /// <summary>Peak rate after linear warmup; cosine decay to <see cref="MinLearningRateRatio"/> × peak over the whole run.</summary>
    public double LearningRate { get; init; } = 1e-3;
    public double WarmupRatio { get; init; } = 0.05;
    public double MinLearningRateRatio { get; init; } = 0.1;
    /// <summary>AdamW decay, applied to matrices only (not to norm weights).</summary>
    public double WeightDecay { get; init; } = 0.01;
    public double GradientClipNorm { get; init; } = 1.0;

    /// <summary>Alignment sequences mixed into each epoch per next-items sequence (0 disables the task).</summary>
    public double AlignmentWeight { get; init; } = 0.25;
    /// <summary>Share of alignment examples held out to measure alignment accuracy.</summary>
    public double AlignmentHoldout { get; init; } = 0.1;

    /// <summary>Caps the sequences one example yields (a burst of dislikes must not dominate an epoch).</summary>
    public int MaxTargetsPerExample { get; init; } = 16;
    public int MaxPromptTokens { get; init; } = 256;
    public int MaxNegatives { get; init; } = 50;
    public int MaxPositives { get; init; } = 20;
    public int Seed { get; init; } = 42;

    /// <summary>
    /// An epoch whose validation loss is not the stage's best counts against this; at the limit the stage stops and keeps
    /// its best epoch's weights. Epochs per stage are then an upper bound.
    /// </summary>
    public int Patience { get; init; } = 1;

    /// <summary>
    /// A Hugging Face Qwen3 checkpoint to start from (<c>--base</c>): its weights stay frozen and LoRA (<see cref="Lora"/>)
    /// plus the SID token rows are trained, and the bundle holds a PEFT adapter naming this directory. Null: train from scratch.
    /// </summary>
    public string? BaseModel { get; init; }

    public Lora.LoraSettings Lora { get; init; } = new();

    /// <summary>
    /// A model directory written by an earlier run with the same codebook and shape, whose weights replace the random
    /// initialisation (the ablation starts its GRPO rows from one SFT model instead of repeating SFT).
    /// </summary>
    public string? InitialModel { get; init; }

    /// <summary>No SFT epochs: with <see cref="InitialModel"/>, go straight to GRPO.</summary>
    public bool SkipSft { get; init; }

    /// <summary>Progressive GRPO after SFT (null: SFT only).</summary>
    public GrpoOptions? Grpo { get; init; }

    public const int MaxEpochs = 10_000;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad field and its allowed range.</summary>
    public void Validate()
    {
        Range(HiddenSize, nameof(HiddenSize), 8, 16_384);
        Range(Layers, nameof(Layers), 1, 256);
        Range(Heads, nameof(Heads), 1, 256);
        Range(KvHeads, nameof(KvHeads), 1, 256);
        if (Heads % KvHeads != 0) throw new ArgumentException($"{nameof(Heads)} ({Heads}) must be a multiple of {nameof(KvHeads)} ({KvHeads})");
        Range(HeadDim, nameof(HeadDim), 2, 1024);
        if (HeadDim % 2 != 0) throw new ArgumentException($"{nameof(HeadDim)} = {HeadDim} must be even (rotary embeddings rotate pairs)");
        Range(IntermediateSize, nameof(IntermediateSize), 1, 65_536);
        Finite(RopeTheta, nameof(RopeTheta), 1, 1e9, lowOpen: false);

        if (Stages is null || Stages.Count == 0) throw new ArgumentException($"{nameof(Stages)} must list at least one stage");
        for (int i = 0; i < Stages.Count; i++)
        {
            var s = Stages[i] ?? throw new ArgumentException($"{nameof(Stages)}[{i}] is null");
            if (!Enum.IsDefined(s.Context)) throw new ArgumentException($"{nameof(Stages)}[{i}].Context = {(int)s.Context} is not a known context");
            if (s.Epochs < 1 || s.Epochs > MaxEpochs) throw new ArgumentException($"{nameof(Stages)}[{i}].Epochs = {s.Epochs} must be in [1, {MaxEpochs}]");
            if (!double.IsFinite(s.RecentDays) || s.RecentDays <= 0 || s.RecentDays > 36_500)
                throw new ArgumentException($"{nameof(Stages)}[{i}].RecentDays = {F(s.RecentDays)} must be in (0, 36500]");
        }

        Range(BatchSize, nameof(BatchSize), 1, 65_536);
        Finite(LearningRate, nameof(LearningRate), 0, 1, lowOpen: true);
        Finite(WarmupRatio, nameof(WarmupRatio), 0, 1, lowOpen: false);
        Finite(MinLearningRateRatio, nameof(MinLearningRateRatio), 0, 1, lowOpen: false);
        Finite(WeightDecay, nameof(WeightDecay), 0, 1, lowOpen: false);
        Finite(GradientClipNorm, nameof(GradientClipNorm), 0, 1e6, lowOpen: true);
        Finite(AlignmentWeight, nameof(AlignmentWeight), 0, 100, lowOpen: false);
        Finite(AlignmentHoldout, nameof(AlignmentHoldout), 0, 0.9, lowOpen: false);
        Range(MaxTargetsPerExample, nameof(MaxTargetsPerExample), 1, 10_000);
        Range(MaxPromptTokens, nameof(MaxPromptTokens), 4, PromptTemplate.MaxTokensLimit);
        Range(MaxNegatives, nameof(MaxNegatives), 1, PromptTemplate.MaxEventsLimit);
        Range(MaxPositives, nameof(MaxPositives), 0, PromptTemplate.MaxEventsLimit);
        Range(Patience, nameof(Patience), 1, 1000);
        if (BaseModel is not null)
        {
            if (!Directory.Exists(BaseModel)) throw new ArgumentException($"{nameof(BaseModel)} '{BaseModel}' is not a directory");
            Lora.Validate();
        }
        Grpo?.Validate();
        if (SkipSft && InitialModel is null) throw new ArgumentException($"{nameof(SkipSft)} needs {nameof(InitialModel)}: a model to start GRPO from");
        if (InitialModel is not null && BaseModel is not null) throw new ArgumentException($"{nameof(InitialModel)} and {nameof(BaseModel)} exclude each other");
    }

    private static void Range(int value, string name, int min, int max)
    {
        if (value < min || value > max) throw new ArgumentException($"{name} = {value} must be in [{min}, {max}]");
    }

    private static void Finite(double value, string name, double min, double max, bool lowOpen)
    {
        bool ok = double.IsFinite(value) && (lowOpen ? value > min : value >= min) && value <= max;
        if (!ok) throw new ArgumentException($"{name} = {F(value)} must be in {(lowOpen ? "(" : "[")}{F(min)}, {F(max)}]");
    }

    private static string F(double x) => x.ToString(CultureInfo.InvariantCulture);
}
