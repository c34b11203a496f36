using CoNRec.Core;

namespace CoNRec.Model.RqVae;

/// <summary>
/// RQ-VAE hyper-parameters. The loss is Eq. 1 of the paper with the usual VQ-VAE weighting:
/// L = ‖x − x̂‖² + λ Σ_d (β‖R⁽ᵈ⁾ − sg[Z⁽ᵈ⁾]‖² + ‖sg[R⁽ᵈ⁾] − Z⁽ᵈ⁾‖²).
/// <see cref="Lambda"/> weighs the whole quantisation loss against reconstruction; <see cref="Beta"/> weighs the
/// commitment term, the one whose gradient reaches the encoder (it pulls residuals toward their codewords), while the
/// codebook term moves the codewords. With β = 1 this is exactly the paper's Eq. 1, which has no β.
/// </summary>
public sealed record RqVaeOptions
{
    public const int MaxHiddenLayers = CodebookEncoder.MaxLayers - 1;
    public const int MaxWidth = CodebookEncoder.MaxWidth;

    public int Levels { get; init; } = 3;
    public int CodesPerLevel { get; init; } = 32;
    /// <summary>d: the latent (and codeword) dimension.</summary>
    public int LatentDim { get; init; } = 32;
    /// <summary>Encoder hidden widths, input side first; the decoder mirrors them.</summary>
    public IReadOnlyList<int> Hidden { get; init; } = [128];
    public int Epochs { get; init; } = 50;
    public int BatchSize { get; init; } = 256;
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>λ: weight of the quantisation loss.</summary>
    public double Lambda { get; init; } = 1.0;
    /// <summary>β: weight of the commitment term ‖R − sg[Z]‖².</summary>
    public double Beta { get; init; } = 1.0;
    public int Seed { get; init; } = 1;
    /// <summary>How x is normalised before it is encoded; stored in the exported codebook so the service does the same.</summary>
    public EncoderInputNorm InputNorm { get; init; } = EncoderInputNorm.L2;
    /// <summary>Fraction of items held out of training and used only for the test-time metrics.</summary>
    public double HoldOutFraction { get; init; } = 0.1;
    /// <summary>Items (from the training split, seeded sample) whose residuals initialise each level's codebook by k-means.</summary>
    public int KMeansSamples { get; init; } = 4096;
    public int KMeansIterations { get; init; } = 25;
    /// <summary>
    /// Append a disambiguation level (<see cref="Disambiguation"/>): SIDs get Levels + 1 codes and items that collided on
    /// the trained levels become distinct. Costs ⌈log2 K⌉ bits per stored SID and K more tokens in the model's vocabulary.
    /// </summary>
    public bool Disambiguate { get; init; }

    /// <summary>Training stops after this many epochs without a better held-out loss (the best epoch is kept).</summary>
    public int Patience { get; init; } = 30;
    /// <summary>After each epoch but the last, codes no training item used are moved onto random residuals of their level.</summary>
    public bool ResetDeadCodes { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the field and its limit.</summary>
    public void Validate()
    {
        static void Check(bool ok, string field, object value, string limit)
        {
            if (!ok) throw new ArgumentOutOfRangeException(field, value, $"RqVaeOptions.{field} = {value}; must be {limit}");
        }
        Check(Levels is >= 1 and <= SidLayout.MaxLevels, nameof(Levels), Levels, $"in [1, {SidLayout.MaxLevels}]");
        Check(CodesPerLevel is >= 2 and <= SidLayout.MaxCodesPerLevel, nameof(CodesPerLevel), CodesPerLevel, $"in [2, {SidLayout.MaxCodesPerLevel}]");
        try { _ = new SidLayout(Levels + (Disambiguate ? 1 : 0), CodesPerLevel); }
        catch (ArgumentOutOfRangeException e) { throw new ArgumentOutOfRangeException(nameof(Levels), $"RqVaeOptions: {e.Message}"); }
        Check(LatentDim is >= 1 and <= MaxWidth, nameof(LatentDim), LatentDim, $"in [1, {MaxWidth}]");
        Check(Hidden is not null && Hidden.Count <= MaxHiddenLayers, nameof(Hidden), Hidden?.Count ?? -1, $"a list of at most {MaxHiddenLayers} widths (the stored encoder has at most {CodebookEncoder.MaxLayers} layers)");
        for (int i = 0; i < Hidden!.Count; i++)
            Check(Hidden[i] is >= 1 and <= MaxWidth, $"{nameof(Hidden)}[{i}]", Hidden[i], $"in [1, {MaxWidth}]");
        Check(Epochs is >= 1 and <= 100_000, nameof(Epochs), Epochs, "in [1, 100000]");
        Check(BatchSize is >= 1 and <= 1 << 20, nameof(BatchSize), BatchSize, $"in [1, {1 << 20}]");
        Check(double.IsFinite(LearningRate) && LearningRate > 0, nameof(LearningRate), LearningRate, "finite and > 0");
        Check(double.IsFinite(Lambda) && Lambda >= 0, nameof(Lambda), Lambda, "finite and >= 0");
        Check(double.IsFinite(Beta) && Beta >= 0, nameof(Beta), Beta, "finite and >= 0");
        Check(HoldOutFraction is >= 0 and <= 0.5, nameof(HoldOutFraction), HoldOutFraction, "in [0, 0.5]");
        Check(KMeansSamples >= 1, nameof(KMeansSamples), KMeansSamples, ">= 1");
        Check(KMeansIterations is >= 0 and <= 1000, nameof(KMeansIterations), KMeansIterations, "in [0, 1000]");
        Check(Patience is >= 1 and <= 100_000, nameof(Patience), Patience, "in [1, 100000]");
        Check(Enum.IsDefined(InputNorm), nameof(InputNorm), InputNorm, "None or L2");
    }
}
