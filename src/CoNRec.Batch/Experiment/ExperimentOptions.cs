using CoNRec.Model.RqVae;
using CoNRec.Model.Training;
using CoNRec.Offline.Data;
using CoNRec.Offline.Embeddings;
using CoNRec.Offline.Evaluation;

namespace CoNRec.Batch.Experiment;

/// <summary>Where the interactions come from.</summary>
public enum DataSource { Synthetic, MovieLens, Dataset }

/// <summary>
/// One end-to-end run: data → temporal split → item embeddings → RQ-VAE → fine-tune → predictions for every test
/// case → metrics with baselines. Every artefact lands in <see cref="OutputDirectory"/>.
/// </summary>
public sealed record ExperimentOptions
{
    public DataSource Source { get; init; } = DataSource.Synthetic;

    /// <summary>MovieLens 100K directory (u.data, u.item) or a dataset directory (items.jsonl, interactions.jsonl).</summary>
    public string? InputDirectory { get; init; }

    public SyntheticSpec Synthetic { get; init; } = new();

    /// <summary>Optional embeddings JSONL handed in by the user instead of the built-in feature encoder.</summary>
    public string? EmbeddingsFile { get; init; }

    public required string OutputDirectory { get; init; }

    public SplitOptions Split { get; init; } = new();

    public ItemEmbedderOptions Embedder { get; init; } = new();

    public RqVaeOptions RqVae { get; init; } = new();

    public SwingOptions Swing { get; init; } = new();

    public TrainingDataOptions TrainingData { get; init; } = new();

    public FineTuneOptions FineTune { get; init; } = new();

    public EvalOptions Eval { get; init; } = new();

    /// <summary>The profile parameters searched on validation cases.</summary>
    public ProfileGrid Profiles { get; init; } = new();

    /// <summary>Bootstrap resamples over users for every interval (seeded by the evaluation seed).</summary>
    public int Resamples { get; init; } = 1000;

    public string Device { get; init; } = "cpu";

    /// <summary>Skip fine-tuning and prediction: evaluate the profile without model SIDs and the baselines only (seconds, to inspect a dataset or an embedding).</summary>
    public bool SkipModel { get; init; }

    public int GenerateBatchSize { get; init; } = 16;

    /// <summary>Progressive GRPO after SFT (<c>--stages sft,grpo</c>; off by default, see <see cref="Presets.TrainStages"/>).</summary>
    public bool Grpo { get; init; }

    public GrpoOptions GrpoOptions { get; init; } = new();

    /// <summary>Run the paper's Table 2 (rows 1-5) and SASRec instead of one model.</summary>
    public bool Ablation { get; init; }

    public CoNRec.Model.SasRec.SasRecOptions SasRec { get; init; } = new();

    /// <summary><c>train</c>: every interaction is training data, and the run stops after writing the bundle.</summary>
    public bool TrainOnly { get; init; }

    /// <summary><c>train --out</c>: where the bundle goes.</summary>
    public string? BundleOutput { get; init; }

    /// <summary>False for plain log lines (CI); null to detect a terminal.</summary>
    public bool? Terminal { get; init; }
}
