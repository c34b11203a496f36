using System.Text;
using CoNRec.Core;
using CoNRec.Model.RqVae;
using CoNRec.Testing;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace CoNRec.Model.Tests;

/// <summary>One RQ-VAE trained on 8 well-separated Gaussian clusters (400 points, 32-D), shared by the tests that read it.</summary>
public sealed class ClusteredRqVae : IDisposable
{
    public const int Clusters = 8, PerCluster = 50, Dim = 32;
    public float[] X { get; }
    public int[] Labels { get; }
    public List<(int Epoch, double Loss)> Progress { get; } = [];
    public RqVaeResult Result { get; }

    public static RqVaeOptions Options => new()
    {
        Levels = 3, CodesPerLevel = 8, LatentDim = 16, Hidden = [64], Epochs = 40, BatchSize = 50, LearningRate = 3e-3, Seed = 5,
    };

    public ClusteredRqVae()
    {
        (X, Labels) = RqVaeData.Clusters(new Random(11), Clusters, PerCluster, Dim, noise: 0.1);
        Result = RqVaeTrainer.Train(X, Clusters * PerCluster, Dim, Options, new SyncProgress(Progress));
    }

    public void Dispose() => Result.Dispose();

    /// <summary>Progress&lt;T&gt; posts to the thread pool; the curve must be complete when Train returns.</summary>
    private sealed class SyncProgress(List<(int, double)> sink) : IProgress<(int epoch, double loss)>
    {
        public void Report((int epoch, double loss) value) => sink.Add(value);
    }
}

public static class RqVaeData
{
    /// <summary>k cluster centres ~ N(0, 1)^dim, points = centre + N(0, noise²); rows grouped by cluster.</summary>
    public static (float[] X, int[] Labels) Clusters(Random rng, int k, int perCluster, int dim, double noise)
    {
        var centres = new double[k, dim];
        for (int c = 0; c < k; c++) for (int j = 0; j < dim; j++) centres[c, j] = Gaussian(rng);
        var x = new float[k * perCluster * dim];
        var labels = new int[k * perCluster];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = i / perCluster;
            for (int j = 0; j < dim; j++) x[(i * dim) + j] = (float)(centres[labels[i], j] + (noise * Gaussian(rng)));
        }
        return (x, labels);
    }

    public static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}

public sealed class RqVaeTests(ClusteredRqVae trained, ITestOutputHelper log) : IClassFixture<ClusteredRqVae>
{
    [Fact]
    public void Level_1_codes_recover_the_clusters()
    {
        var sids = trained.Result.Sids;
        var majority = new uint[ClusteredRqVae.Clusters];
        for (int c = 0; c < ClusteredRqVae.Clusters; c++)
        {
            var codes = Enumerable.Range(c * ClusteredRqVae.PerCluster, ClusteredRqVae.PerCluster).Select(i => sids[i][0]).ToList();
            var top = codes.GroupBy(x => x).OrderByDescending(g => g.Count()).First();
            double purity = (double)top.Count() / codes.Count;
            Assert.True(purity >= 0.95, $"cluster {c}: purity {purity:F2} of level-1 code {top.Key}");
            majority[c] = top.Key;
        }
        Assert.Equal(ClusteredRqVae.Clusters, majority.Distinct().Count()); // distinct clusters, distinct codes
        Assert.Equal(1.0, trained.Result.Utilisation[0]);
    }

    [Fact]
    public void Metrics_report_a_held_out_reconstruction_and_a_falling_loss()
    {
        var r = trained.Result;
        log.WriteLine($"train {r.Train}; held out {r.HeldOut}; utilisation [{string.Join(", ", r.Utilisation)}]; collisions {r.CollisionRate:F3}; loss {r.LossCurve[0]:F4} → {r.LossCurve[^1]:F4}");
        Assert.Equal(40, r.HeldOut.Count);              // 10% of 400
        Assert.Equal(360, r.Train.Count);
        Assert.Equal(40, r.HeldOutItems.Length);
        Assert.True(r.HeldOut.MeanCosine >= 0.9, $"held-out reconstruction cosine {r.HeldOut.MeanCosine:F3}");
        Assert.True(r.Train.MeanCosine >= 0.9, $"training reconstruction cosine {r.Train.MeanCosine:F3}");
        Assert.InRange(r.HeldOut.Mse, 0, 0.01);      // inputs are unit vectors in 32-D: per-element MSE of 0.01 is cosine ≈ 0.84
        Assert.Equal(ClusteredRqVae.Options.Epochs, r.LossCurve.Length);
        Assert.True(r.LossCurve[^1] < r.LossCurve[0] / 2, $"loss {r.LossCurve[0]:F4} → {r.LossCurve[^1]:F4}");
        Assert.Equal(Enumerable.Range(1, r.LossCurve.Length), trained.Progress.Select(p => p.Epoch));
        Assert.Equal(r.LossCurve, trained.Progress.Select(p => p.Loss));
        Assert.InRange(r.CollisionRate, 0, 1);
        Assert.All(r.Utilisation, u => Assert.InRange(u, 1.0 / 8, 1.0));
    }

    [Fact]
    public void Core_encoder_and_quantize_reproduce_every_training_sid()
    {
        using var dir = new TempDir();
        var path = dir.File("codebook.safetensors");
        trained.Result.ExportCodebook(path);
        var cb = Codebook.Load(path);
        Assert.Equal((3, 8, 16), (cb.Levels, cb.CodesPerLevel, cb.Dimension));
        var enc = Assert.IsType<CodebookEncoder>(cb.Encoder);
        Assert.Equal((ClusteredRqVae.Dim, 2, EncoderInputNorm.L2), (enc.InputDimension, enc.LayerCount, enc.InputNorm));
        var file = SafeTensorsFile.Load(path);
        Assert.Equal("relu", file.Metadata[CodebookEncoder.ActivationKey]);
        Assert.Equal("l2", file.Metadata[CodebookEncoder.InputNormKey]);
        Assert.Equal([64L, 32L], file.Tensors["encoder.layers.0.weight"].Shape);
        Assert.Equal([16L, 64L], file.Tensors["encoder.layers.1.weight"].Shape);
        Assert.DoesNotContain(file.Tensors.Keys, k => k.StartsWith("decoder.", StringComparison.Ordinal));

        var latent = new float[cb.Dimension];
        var codes = new uint[cb.Levels];
        int n = trained.Labels.Length;
        for (int i = 0; i < n; i++)
        {
            enc.Encode(trained.X.AsSpan(i * ClusteredRqVae.Dim, ClusteredRqVae.Dim), latent);
            cb.Quantize(latent, codes);
            Assert.True(codes.SequenceEqual(trained.Result.Sids[i]), $"item {i}: core [{string.Join(",", codes)}] vs torch [{string.Join(",", trained.Result.Sids[i])}]");
        }
    }

    [Fact]
    public void Catalog_export_writes_one_parsable_line_per_item()
    {
        using var dir = new TempDir();
        var path = dir.File("catalog.jsonl");
        var ids = Enumerable.Range(0, trained.Labels.Length).Select(i => $"i{i}").ToList();
        trained.Result.ExportCatalog(path, ids);
        var lines = File.ReadAllLines(path);
        Assert.Equal(ids.Count, lines.Length);
        var layout = new SidLayout(3, 8);
        var s = trained.Result.Sids[7];
        Assert.Equal($"{{\"item_id\":\"i7\",\"sid\":[{s[0]},{s[1]},{s[2]}]}}", lines[7]);
        for (int i = 0; i < lines.Length; i++)
        {
            var entry = JsonlInput.ParseCatalogLine(Encoding.UTF8.GetBytes(lines[i]), layout, "catalog.jsonl", i + 1);
            Assert.Equal(ids[i], entry.ItemId);
            Assert.Equal(layout.Pack(trained.Result.Sids[i]), entry.Sid);
        }
        var e = Assert.Throws<ArgumentException>(() => trained.Result.ExportCatalog(path, ids.Take(3).ToList()));
        Assert.Contains("itemIds has 3 ids; the model has SIDs for 400 items", e.Message);
        ids[5] = "i4";
        e = Assert.Throws<ArgumentException>(() => trained.Result.ExportCatalog(path, ids));
        Assert.Contains("itemIds[5] = 'i4' repeats an earlier id", e.Message);
    }

    [Fact]
    public void Forward_loss_is_eq_1_with_lambda_and_beta()
    {
        // λ = 0.5, β = 0.25 on an untrained model: at the forward value both quantisation terms equal ‖R − Z‖², so
        // L = mean_b ‖x − x̂‖² + λ (1 + β) mean_b Σ_d ‖R⁽ᵈ⁾ − Z⁽ᵈ⁾‖², recomputed here in double from Core's quantiser.
        var o = ClusteredRqVae.Options with { Lambda = 0.5, Beta = 0.25 };
        using var model = new RqVae.RqVae(ClusteredRqVae.Dim, o);
        int b = 6;
        var x = trained.X.AsSpan(0, b * ClusteredRqVae.Dim).ToArray();
        using var input = torch.tensor(x, [b, ClusteredRqVae.Dim]);
        using var output = model.forward(input);
        var codebook = Codebook.Create(o.Levels, o.CodesPerLevel, o.LatentDim, model.Codebooks.contiguous().data<float>().ToArray());

        using var latentT = model.Encode(input);
        var latent = latentT.detach().data<float>().ToArray();
        var xHat = output.Reconstruction.detach().data<float>().ToArray();
        var codes = output.Codes.data<long>().ToArray();
        double quant = 0, recon = 0;
        var c = new uint[o.Levels];
        for (int i = 0; i < b; i++)
        {
            codebook.Quantize(latent.AsSpan(i * o.LatentDim, o.LatentDim), c);
            for (int l = 0; l < o.Levels; l++) Assert.Equal(c[l], (uint)codes[(i * o.Levels) + l]);
            var residual = latent.AsSpan(i * o.LatentDim, o.LatentDim).ToArray().Select(v => (double)v).ToArray();
            for (int l = 0; l < o.Levels; l++)
            {
                var z = codebook.Codeword(l, (int)c[l]);
                for (int j = 0; j < residual.Length; j++)
                {
                    quant += (residual[j] - z[j]) * (residual[j] - z[j]);
                    residual[j] -= z[j];
                }
            }
            for (int j = 0; j < ClusteredRqVae.Dim; j++)
            {
                double diff = x[(i * ClusteredRqVae.Dim) + j] - xHat[(i * ClusteredRqVae.Dim) + j];
                recon += diff * diff;
            }
        }
        quant /= b;
        recon /= b;
        Assert.Equal(recon, output.ReconstructionLoss.item<float>(), 4);
        Assert.Equal(1.25 * quant, output.QuantizationLoss.item<float>(), 4);
        Assert.Equal(recon + (0.5 * 1.25 * quant), output.Loss.item<float>(), 4);

        // The straight-through estimator: the decoder sees X̂ = Σ Z, yet the reconstruction's gradient reaches the encoder.
        using (var decoded = model.Decode(output.Quantized))
        {
            var again = decoded.detach().data<float>().ToArray();
            for (int j = 0; j < xHat.Length; j++) Assert.Equal(xHat[j], again[j], 5); // z + (X̂ − z) rounds slightly differently from X̂
        }
        model.zero_grad();
        output.ReconstructionLoss.backward();
        var encoderGrad = model.Encoder.Layers[0].weight!.grad;
        Assert.NotNull(encoderGrad);
        Assert.True(encoderGrad.abs().sum().item<float>() > 0);
        // ... and the codebooks receive none from it: only the codebook term moves them.
        var cbGrad = model.Codebooks.grad;
        Assert.True(cbGrad is null || cbGrad.abs().sum().item<float>() == 0);
    }

    [Fact]
    public void Utilisation_and_collision_rate_on_a_hand_checked_case()
    {
        uint[][] sids = [[0, 1], [0, 2], [3, 1], [0, 1], [2, 2], [0, 2]];
        // level 0 uses {0, 2, 3} of 4; level 1 uses {1, 2} of 4. [0,1] and [0,2] each appear twice: 4 of 6 items collide.
        Assert.Equal([0.75, 0.5], RqVaeMetrics.Utilisation(sids, 2, 4));
        Assert.Equal(4.0 / 6, RqVaeMetrics.CollisionRate(sids), 12);
        Assert.Equal(0.0, RqVaeMetrics.CollisionRate([[1, 2], [2, 1], [1, 1]]));
    }

    [Fact]
    public void Training_is_deterministic_for_a_seed_and_inputs_are_validated()
    {
        var (x, _) = RqVaeData.Clusters(new Random(2), 4, 15, 8, noise: 0.3);
        var o = new RqVaeOptions
        {
            Levels = 2, CodesPerLevel = 4, LatentDim = 4, Hidden = [12, 8], Epochs = 3, BatchSize = 16, Seed = 9,
            InputNorm = EncoderInputNorm.None, HoldOutFraction = 0.2,
        };
        using var a = RqVaeTrainer.Train(x, 60, 8, o, null);
        using var b = RqVaeTrainer.Train(x, 60, 8, o, null);
        Assert.Equal(a.LossCurve, b.LossCurve);
        Assert.Equal(a.Sids, b.Sids);
        Assert.Equal(a.HeldOutItems, b.HeldOutItems);
        Assert.Equal(12, a.HeldOut.Count);
        using var c = RqVaeTrainer.Train(x, 60, 8, o with { Seed = 10 }, null);
        Assert.NotEqual(a.LossCurve, c.LossCurve);

        // A three-layer encoder without input norm also exports and round-trips through Core.
        using var dir = new TempDir();
        a.ExportCodebook(dir.File("cb.safetensors"));
        var cb = Codebook.Load(dir.File("cb.safetensors"));
        Assert.Equal((3, EncoderInputNorm.None), (cb.Encoder!.LayerCount, cb.Encoder.InputNorm));
        var latent = new float[4];
        var codes = new uint[2];
        for (int i = 0; i < 60; i++)
        {
            cb.Encoder.Encode(x.AsSpan(i * 8, 8), latent);
            cb.Quantize(latent, codes);
            Assert.Equal(a.Sids[i], codes);
        }

        var bad = (float[])x.Clone();
        bad[(1 * 8) + 2] = float.NaN;
        Assert.Contains("x[1, 2] (item 1, feature 2) = NaN is not finite", Assert.Throws<ArgumentException>(() => RqVaeTrainer.Train(bad, 60, 8, o, null)).Message);
        Assert.Contains("x has 480 values; n × inDim = 61 × 8 = 488", Assert.Throws<ArgumentException>(() => RqVaeTrainer.Train(x, 61, 8, o, null)).Message);
    }

    [Theory]
    [InlineData("Levels", "RqVaeOptions.Levels = 0; must be in [1, 8]")]
    [InlineData("CodesPerLevel", "RqVaeOptions.CodesPerLevel = 1; must be in [2, 1048576]")]
    [InlineData("Hidden", "RqVaeOptions.Hidden = 8; must be a list of at most 7 widths")]
    [InlineData("Hidden[1]", "RqVaeOptions.Hidden[1] = 0; must be in [1, 65536]")]
    [InlineData("LearningRate", "RqVaeOptions.LearningRate = NaN; must be finite and > 0")]
    [InlineData("Beta", "RqVaeOptions.Beta = -1; must be finite and >= 0")]
    [InlineData("HoldOutFraction", "RqVaeOptions.HoldOutFraction = 0.6; must be in [0, 0.5]")]
    public void Options_validation_names_the_field_and_limit(string field, string message)
    {
        var o = field switch
        {
            "Levels" => new RqVaeOptions { Levels = 0 },
            "CodesPerLevel" => new RqVaeOptions { CodesPerLevel = 1 },
            "Hidden" => new RqVaeOptions { Hidden = Enumerable.Repeat(4, 8).ToArray() },
            "Hidden[1]" => new RqVaeOptions { Hidden = [4, 0] },
            "LearningRate" => new RqVaeOptions { LearningRate = double.NaN },
            "Beta" => new RqVaeOptions { Beta = -1 },
            "HoldOutFraction" => new RqVaeOptions { HoldOutFraction = 0.6 },
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };
        var e = Assert.Throws<ArgumentOutOfRangeException>(o.Validate);
        Assert.Equal(field, e.ParamName);
        Assert.Contains(message, e.Message);
    }
}

/// <summary>Early stopping on held-out loss, the exported epoch, and the disambiguation level.</summary>
public sealed class RqVaeStoppingTests
{
    private static (float[] X, int N) Data() { var (x, labels) = RqVaeData.Clusters(new Random(21), 6, 40, 24, noise: 0.3); return (x, labels.Length); }

    [Fact]
    public void A_run_whose_loss_keeps_rising_stops_early_and_exports_its_best_held_out_epoch()
    {
        // A learning rate far too high with the old commitment weight makes the loss climb after a few epochs (the drift seen
        // on a user's dataset: lowest at epoch 3, then up for hundreds of epochs). Held-out loss must catch it.
        var (x, n) = Data();
        var o = new RqVaeOptions { Levels = 2, CodesPerLevel = 8, LatentDim = 8, Hidden = [32], Epochs = 300, BatchSize = 40, LearningRate = 0.05,
                                   Beta = 0.25, Seed = 3, HoldOutFraction = 0.2, Patience = 10 };
        var reported = new List<int>();
        using var r = RqVaeTrainer.Train(x, n, 24, o, new Sync(p => reported.Add(p.epoch)));
        var held = r.HeldOutLossCurve;
        Assert.True(r.StoppedEarly, $"ran all {held.Length} epochs");
        Assert.True(held.Length < o.Epochs);
        // Stopped exactly Patience epochs after the best, and the best is the minimum of the curve.
        Assert.Equal(held.Length - 1 - o.Patience, r.BestEpoch);
        Assert.Equal(held.Min(), held[r.BestEpoch]);
        Assert.True(held[^1] > held[r.BestEpoch], "the loss rose after the best epoch");
        // The progress counter never overshoots and counts the epochs run, 1-based.
        Assert.Equal(Enumerable.Range(1, held.Length), reported);
        Assert.All(reported, e => Assert.InRange(e, 1, o.Epochs));
    }

    [Fact]
    public void The_exported_model_is_the_best_epochs()
    {
        // Same data and seed twice: once stopped by patience, once cut to exactly the best epoch. Both keep the same
        // parameters, so every item gets the same SID: the exported model is the best epoch's, not the last one's.
        var (x, n) = Data();
        var o = new RqVaeOptions { Levels = 2, CodesPerLevel = 8, LatentDim = 8, Hidden = [32], Epochs = 300, BatchSize = 40, LearningRate = 0.05,
                                   Beta = 0.25, Seed = 3, HoldOutFraction = 0.2, Patience = 10, ResetDeadCodes = false };
        using var stopped = RqVaeTrainer.Train(x, n, 24, o);
        using var cut = RqVaeTrainer.Train(x, n, 24, o with { Epochs = stopped.BestEpoch + 1, Patience = 100_000 });
        Assert.Equal(stopped.BestEpoch, cut.BestEpoch);
        Assert.Equal(stopped.Sids.Select(s => string.Join(',', s)), cut.Sids.Select(s => string.Join(',', s)));
    }

    [Fact]
    public void The_disambiguation_level_makes_colliding_items_distinct()
    {
        // Two codes per level and tight clusters: many items share their two-level SID.
        var (x, labels) = RqVaeData.Clusters(new Random(4), 4, 30, 16, noise: 0.05);
        var o = new RqVaeOptions { Levels = 2, CodesPerLevel = 32, LatentDim = 8, Hidden = [32], Epochs = 30, BatchSize = 40, LearningRate = 3e-3, Seed = 2 };
        using var plain = RqVaeTrainer.Train(x, labels.Length, 16, o);
        using var unique = RqVaeTrainer.Train(x, labels.Length, 16, o with { Disambiguate = true });
        Assert.True(plain.CollisionRate > 0.2, $"collision rate {plain.CollisionRate}");
        Assert.Equal(plain.CollisionRate, unique.CollisionRateBeforeDisambiguation);
        Assert.Equal(0, unique.CollisionRate); // every group has ≤ 32 items
        Assert.All(unique.Sids, s => Assert.Equal(3, s.Length));
        // The prefix is the trained levels' SID, unchanged.
        Assert.Equal(plain.Sids.Select(s => string.Join(',', s)), unique.Sids.Select(s => string.Join(',', s[..2])));
        // The exported codebook has the extra level, and the Core quantiser puts an item's latent near its own code.
        using var dir = new TempDir();
        unique.ExportCodebook(dir.File("cb.safetensors"));
        var cb = Codebook.Load(dir.File("cb.safetensors"));
        Assert.Equal(3, cb.Levels);
    }

    private sealed class Sync(Action<(int epoch, double loss)> report) : IProgress<(int epoch, double loss)>
    {
        public void Report((int epoch, double loss) value) => report(value);
    }
}
