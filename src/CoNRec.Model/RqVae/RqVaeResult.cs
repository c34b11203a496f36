using System.Text.Json;
using CoNRec.Core;
using static TorchSharp.torch;

namespace CoNRec.Model.RqVae;

/// <summary>
/// A trained RQ-VAE with every item's SID and its quality measures. <see cref="Train"/> covers the items it was trained
/// on, <see cref="HeldOut"/> the held-out ones (<see cref="HeldOutItems"/>): the test-time figure the filter relies on.
/// </summary>
public sealed class RqVaeResult(RqVae model, RqVaeOptions options, int inputDim, uint[][] sids, ReconstructionStats train,
    ReconstructionStats heldOut, double[] utilisation, double collisionRate, double[] lossCurve, int[] heldOutItems) : IDisposable
{
    public RqVae Model { get; } = model;
    public RqVaeOptions Options { get; } = options;
    public int InputDim { get; } = inputDim;
    /// <summary>sids[item][level], every item (training and held out), in input order.</summary>
    public uint[][] Sids { get; } = sids;
    public ReconstructionStats Train { get; } = train;
    public ReconstructionStats HeldOut { get; } = heldOut;
    /// <summary>Per level: codes used by some item / K.</summary>
    public double[] Utilisation { get; } = utilisation;
    /// <summary>Fraction of items whose full SID another item shares (see <see cref="RqVaeMetrics.CollisionRate"/>).</summary>
    public double CollisionRate { get; } = collisionRate;
    /// <summary>Mean training loss per epoch.</summary>
    public double[] LossCurve { get; } = lossCurve;
    public int[] HeldOutItems { get; } = heldOutItems;

    /// <summary>Mean latent over every item (what <see cref="ExportCodebook"/> centres by); null leaves the export uncentred.</summary>
    public float[]? LatentMean { get; init; }

    /// <summary>The held-out items' loss after each epoch (empty without held-out items): it decides the exported epoch.</summary>
    public double[] HeldOutLossCurve { get; init; } = [];

    /// <summary>The 0-based epoch whose parameters were kept (best held-out loss), and whether patience ended training.</summary>
    public int BestEpoch { get; init; }
    public bool StoppedEarly { get; init; }

    /// <summary>The disambiguation level's codewords [K, d] (null without one); exported as the last level.</summary>
    public float[]? DisambiguationCodebook { get; init; }

    /// <summary>The collision rate of the trained levels alone (equal to <see cref="CollisionRate"/> without disambiguation).</summary>
    public double CollisionRateBeforeDisambiguation { get; init; }

    /// <summary>Levels of the exported SIDs: the trained ones, plus the disambiguation level when there is one.</summary>
    public int ExportedLevels => Options.Levels + (DisambiguationCodebook is null ? 0 : 1);

    /// <summary>
    /// Writes the codebook file the service loads: <c>codebooks</c> [L, K, d] F32, the encoder as
    /// <c>encoder.layers.{i}.weight</c> [out, in] / <c>.bias</c> [out] F32, and metadata naming the activation and the
    /// input normalisation the trainer applied (<c>l2</c> or <c>none</c>), so the service encodes cold-start items the same way.
    /// </summary>
    /// <param name="center">
    /// Shift the latent space by the catalog's mean latent μ: level-0 codewords and the encoder's last bias both lose μ.
    /// Every residual, and so every SID, is unchanged (‖(z−μ) − (c−μ)‖ = ‖z − c‖), but reconstructions become
    /// centred. Without it they all share μ's direction and the filter's cosines crowd near 1, leaving thresholds
    /// almost no room; with it a cosine compares where items sit relative to the catalog.
    /// </param>
    public void ExportCodebook(string path, bool center = true)
    {
        var codebooks = Floats(Model.Codebooks);
        var layers = Model.Encoder.Layers;
        var lastBias = Floats(layers[^1].bias!);
        if (center && LatentMean is { } mu)
        {
            for (int k = 0; k < Options.CodesPerLevel; k++)
                for (int j = 0; j < Options.LatentDim; j++) codebooks[(k * Options.LatentDim) + j] -= mu[j];
            for (int j = 0; j < Options.LatentDim; j++) lastBias[j] -= mu[j];
        }
        var entries = new List<SafeTensorsWriter.Entry>
        {
            SafeTensorsWriter.F32(Codebook.TensorName, [ExportedLevels, Options.CodesPerLevel, Options.LatentDim],
                DisambiguationCodebook is { } extra ? [.. codebooks, .. extra] : codebooks),
        };
        for (int i = 0; i < layers.Count; i++)
        {
            var w = layers[i].weight!;
            entries.Add(SafeTensorsWriter.F32($"{CodebookEncoder.Prefix}layers.{i}.weight", w.shape, Floats(w)));
            var bias = i == layers.Count - 1 ? lastBias : Floats(layers[i].bias!);
            entries.Add(SafeTensorsWriter.F32($"{CodebookEncoder.Prefix}layers.{i}.bias", layers[i].bias!.shape, bias));
        }
        var metadata = new Dictionary<string, string>
        {
            [CodebookEncoder.ActivationKey] = "relu",
            [CodebookEncoder.InputNormKey] = Options.InputNorm == EncoderInputNorm.L2 ? "l2" : "none",
        };
        WriteAtomically(path, stream => SafeTensorsWriter.Write(stream, entries, metadata));
    }

    /// <summary>Writes the catalog JSONL, one <c>{"item_id": "...", "sid": [..]}</c> per item, in input order.</summary>
    public void ExportCatalog(string path, IReadOnlyList<string> itemIds)
    {
        ArgumentNullException.ThrowIfNull(itemIds);
        if (itemIds.Count != Sids.Length)
            throw new ArgumentException($"itemIds has {itemIds.Count} ids; the model has SIDs for {Sids.Length} items", nameof(itemIds));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < itemIds.Count; i++)
        {
            if (string.IsNullOrEmpty(itemIds[i])) throw new ArgumentException($"itemIds[{i}] is empty", nameof(itemIds));
            if (!seen.Add(itemIds[i])) throw new ArgumentException($"itemIds[{i}] = '{itemIds[i]}' repeats an earlier id", nameof(itemIds));
        }
        WriteAtomically(path, stream =>
        {
            for (int i = 0; i < itemIds.Count; i++)
            {
                using (var w = new Utf8JsonWriter(stream))
                {
                    w.WriteStartObject();
                    w.WriteString("item_id", itemIds[i]);
                    w.WriteStartArray("sid");
                    foreach (var code in Sids[i]) w.WriteNumberValue(code);
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                stream.WriteByte((byte)'\n');
            }
        });
    }

    private static float[] Floats(Tensor t) => t.detach().cpu().contiguous().data<float>().ToArray();

    // Write-then-rename: a crash never leaves a half-written file under the final name.
    private static void WriteAtomically(string path, Action<Stream> write)
    {
        var tmp = path + ".tmp";
        using (var stream = File.Create(tmp)) write(stream);
        File.Move(tmp, path, overwrite: true);
    }

    public void Dispose() => Model.Dispose();
}
