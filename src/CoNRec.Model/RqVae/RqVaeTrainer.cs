using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using CoNRec.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.RqVae;

/// <summary>
/// Trains an <see cref="RqVae"/> on item feature vectors (CPU, deterministic for a seed): normalise per
/// <see cref="RqVaeOptions.InputNorm"/>, hold out a seeded <see cref="RqVaeOptions.HoldOutFraction"/> of the items,
/// k-means-initialise every level's codebook on the training residuals, then Adam on the Eq. 1 loss.
/// </summary>
public static class RqVaeTrainer
{
    private sealed record FitCurve(double[] Train, double[] HeldOut, int BestEpoch, bool StoppedEarly);

    /// <summary>Items per inference chunk: bounds the [B, K, d] distance tensor.</summary>
    private const int InferenceChunk = 1024;

    /// <param name="x">n rows of inDim features, row-major</param>
    public static RqVaeResult Train(float[] x, int n, int inDim, RqVaeOptions o, IProgress<(int epoch, double loss)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(o);
        o.Validate();
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "n (items) must be >= 1");
        if (inDim is < 1 or > CodebookEncoder.MaxInputDimension)
            throw new ArgumentOutOfRangeException(nameof(inDim), inDim, $"inDim must be in [1, {CodebookEncoder.MaxInputDimension}] (the stored encoder's limit)");
        if ((long)n * inDim != x.Length)
            throw new ArgumentException($"x has {x.Length} values; n × inDim = {n} × {inDim} = {(long)n * inDim}", nameof(x));

        var inputs = Normalise(x, n, inDim, o.InputNorm);
        var rng = new Random(unchecked(o.Seed * 31 + 7)); // data order and k-means; the model's init has its own stream
        var perm = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(perm);
        int held = (int)Math.Floor(n * o.HoldOutFraction);
        var heldOut = perm[..held].Order().ToArray();
        var train = perm[held..].Order().ToArray();

        using var all = torch.tensor(inputs, [n, inDim]);
        var model = new RqVae(inDim, o);
        try
        {
            InitialiseCodebooks(model, all, train, o, rng);
            var fit = Fit(model, all, train, heldOut, o, rng, progress);
            model.eval();
            var (sids, mse, cos) = Evaluate(model, all, n);
            double collisionsBefore = RqVaeMetrics.CollisionRate(sids);
            float[]? extra = null;
            if (o.Disambiguate)
            {
                var residuals = FinalResiduals(model, all);
                var d = Disambiguation.Assign(residuals, o.LatentDim, sids, o.CodesPerLevel, o.KMeansIterations, rng);
                extra = d.Codebook;
                for (int i = 0; i < n; i++) sids[i] = [.. sids[i], d.Codes[i]];
            }
            float[] mean;
            using (torch.no_grad())
            using (var latent = model.Encode(all))
            using (var m = latent.mean([0]))
                mean = m.data<float>().ToArray();
            return new RqVaeResult(model, o, inDim, sids,
                Stats(train, mse, cos), Stats(heldOut, mse, cos),
                RqVaeMetrics.Utilisation(sids, sids.Length == 0 ? o.Levels : sids[0].Length, o.CodesPerLevel), RqVaeMetrics.CollisionRate(sids), fit.Train, heldOut)
            {
                LatentMean = mean, HeldOutLossCurve = fit.HeldOut, BestEpoch = fit.BestEpoch, StoppedEarly = fit.StoppedEarly,
                DisambiguationCodebook = extra, CollisionRateBeforeDisambiguation = collisionsBefore,
            };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static float[] Normalise(float[] x, int n, int inDim, EncoderInputNorm norm)
    {
        var inputs = new float[x.Length];
        for (int i = 0; i < n; i++)
        {
            var row = x.AsSpan(i * inDim, inDim);
            for (int j = 0; j < inDim; j++)
                if (!float.IsFinite(row[j])) throw new ArgumentException($"x[{i}, {j}] (item {i}, feature {j}) = {row[j]} is not finite", nameof(x));
            var dest = inputs.AsSpan(i * inDim, inDim);
            if (norm == EncoderInputNorm.L2)
            {
                // The same scale CodebookEncoder folds into layer 0, so trainer and service see the same input.
                float length = TensorPrimitives.Norm(row);
                TensorPrimitives.Multiply(row, length > 0f ? 1f / length : 0f, dest);
            }
            else row.CopyTo(dest);
        }
        return inputs;
    }

    /// <summary>Level by level: k-means on a seeded sample's residuals, then subtract the assigned centroids for the next level.</summary>
    private static void InitialiseCodebooks(RqVae model, Tensor all, int[] train, RqVaeOptions o, Random rng)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var sample = train.ToArray();
        rng.Shuffle(sample);
        sample = sample[..Math.Min(sample.Length, o.KMeansSamples)];
        var residual = model.Encode(all.index_select(0, torch.tensor(sample.Select(i => (long)i).ToArray())));
        for (int l = 0; l < o.Levels; l++)
        {
            var points = residual.contiguous().data<float>().ToArray();
            var centroids = KMeans.Fit(points, o.LatentDim, o.CodesPerLevel, o.KMeansIterations, rng);
            model.Codebooks[l].copy_(torch.tensor(centroids, [o.CodesPerLevel, o.LatentDim]));
            residual = residual - model.Codebooks[l].index_select(0, model.Nearest(residual, l));
        }
    }

    /// <summary>
    /// Adam on the training items. After every epoch the held-out items' loss is measured (eval mode, no gradient); the
    /// parameters of the best held-out epoch are kept, and training stops once <see cref="RqVaeOptions.Patience"/>
    /// epochs pass without improving it, so a run whose loss drifts upward is cut short and the best epoch is exported.
    /// Without held-out items every epoch runs and the last one is kept.
    /// </summary>
    private static FitCurve Fit(RqVae model, Tensor all, int[] train, int[] heldOut, RqVaeOptions o, Random rng, IProgress<(int, double)>? progress)
    {
        var trainCurve = new List<double>();
        var heldOutCurve = new List<double>();
        if (train.Length == 0) return new FitCurve([], [], 0, false);
        using var optimizer = torch.optim.Adam(model.parameters(), o.LearningRate);
        using var heldOutIndex = heldOut.Length == 0 ? null : torch.tensor(heldOut.Select(i => (long)i).ToArray());
        var order = train.ToArray();
        var used = new bool[o.Levels * o.CodesPerLevel];
        double best = double.PositiveInfinity;
        int bestEpoch = -1;
        Dictionary<string, Tensor>? bestState = null;
        bool stoppedEarly = false;
        try
        {
            for (int epoch = 0; epoch < o.Epochs; epoch++)
            {
                model.train();
                rng.Shuffle(order);
                Array.Clear(used);
                double total = 0, recon = 0, quant = 0;
                for (int start = 0; start < order.Length; start += o.BatchSize)
                {
                    using var scope = torch.NewDisposeScope();
                    int count = Math.Min(o.BatchSize, order.Length - start);
                    var index = torch.tensor(order.AsSpan(start, count).ToArray().Select(i => (long)i).ToArray());
                    var batch = all.index_select(0, index);
                    optimizer.zero_grad();
                    var output = model.forward(batch);
                    output.Loss.backward();
                    optimizer.step();
                    total += output.Loss.item<float>() * count;
                    recon += output.ReconstructionLoss.item<float>() * count;
                    quant += output.QuantizationLoss.item<float>() * count;
                    var codes = output.Codes.data<long>().ToArray();
                    for (int k = 0; k < codes.Length; k++) used[((k % o.Levels) * o.CodesPerLevel) + (int)codes[k]] = true;
                }
                trainCurve.Add(total / order.Length);
                if (Environment.GetEnvironmentVariable("CONREC_RQVAE_TRACE") is not null)
                    Console.Error.WriteLine($"rqvae epoch {epoch + 1}: loss {total / order.Length:F4} recon {recon / order.Length:F4} quant {quant / order.Length:F4}");
                if (heldOutIndex is not null)
                {
                    double loss = HeldOutLoss(model, all, heldOutIndex);
                    heldOutCurve.Add(loss);
                    if (loss < best - 1e-9)
                    {
                        best = loss;
                        bestEpoch = epoch;
                        DisposeState(bestState);
                        bestState = Snapshot(model);
                    }
                }
                progress?.Report((epoch + 1, trainCurve[^1]));
                if (heldOutIndex is not null && epoch - bestEpoch >= o.Patience) { stoppedEarly = true; break; }
                if (o.ResetDeadCodes && epoch < o.Epochs - 1) ResetDeadCodes(model, all, train, used, o, rng);
            }
            if (bestState is not null)
            {
                using var _ = torch.no_grad();
                foreach (var (name, p) in model.named_parameters()) p.copy_(bestState[name]);
            }
        }
        finally { DisposeState(bestState); }
        return new FitCurve([.. trainCurve], [.. heldOutCurve], bestEpoch < 0 ? trainCurve.Count - 1 : bestEpoch, stoppedEarly);
    }

    private static double HeldOutLoss(RqVae model, Tensor all, Tensor heldOut)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        model.eval();
        return model.forward(all.index_select(0, heldOut)).Loss.item<float>();
    }

    private static Dictionary<string, Tensor> Snapshot(RqVae model)
    {
        using var _ = torch.no_grad();
        return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
    }

    private static void DisposeState(Dictionary<string, Tensor>? state)
    {
        if (state is null) return;
        foreach (var t in state.Values) t.Dispose();
    }

    /// <summary>Moves each code no training item used this epoch onto a random training item's residual at its level.</summary>
    private static void ResetDeadCodes(RqVae model, Tensor all, int[] train, bool[] used, RqVaeOptions o, Random rng)
    {
        if (Array.TrueForAll(used, u => u)) return;
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        int k = o.CodesPerLevel;
        var picks = new long[Math.Min(train.Length, Math.Max(256, k))];
        for (int i = 0; i < picks.Length; i++) picks[i] = train[rng.Next(train.Length)];
        var (_, residuals) = model.Quantize(model.Encode(all.index_select(0, torch.tensor(picks))));
        for (int l = 0; l < o.Levels; l++)
            for (int c = 0; c < k; c++)
                if (!used[(l * k) + c])
                    model.Codebooks[l][c].copy_(residuals[l][rng.Next(picks.Length)]);
    }

    /// <summary>Every item's residual after the last level (latent − Σ its codewords), row-major [n, d].</summary>
    private static float[] FinalResiduals(RqVae model, Tensor all)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var latent = model.Encode(all);
        var (codes, _) = model.Quantize(latent);
        var residual = latent;
        for (int l = 0; l < model.Levels; l++) residual = residual - model.Codebooks[l].index_select(0, codes[.., l]);
        return residual.contiguous().data<float>().ToArray();
    }

    /// <summary>SIDs of all items, and per item the MSE and cosine of its input vs decoder(x̂).</summary>
    private static (uint[][] Sids, double[] Mse, double[] Cos) Evaluate(RqVae model, Tensor all, int n)
    {
        var sids = new uint[n][];
        var mse = new double[n];
        var cos = new double[n];
        using var _ = torch.no_grad();
        for (int start = 0; start < n; start += InferenceChunk)
        {
            using var scope = torch.NewDisposeScope();
            int count = Math.Min(InferenceChunk, n - start);
            var x = all.narrow(0, start, count);
            var (codes, _) = model.Quantize(model.Encode(x));
            var quantized = torch.zeros([count, model.LatentDim]);
            for (int l = 0; l < model.Levels; l++) quantized = quantized + model.Codebooks[l].index_select(0, codes[.., l]);
            var xHat = model.Decode(quantized);
            var err = (x - xHat).pow(2).mean([1]).data<float>().ToArray();
            var c = nn.functional.cosine_similarity(x, xHat, 1).data<float>().ToArray();
            var flat = codes.data<long>().ToArray();
            for (int i = 0; i < count; i++)
            {
                sids[start + i] = new uint[model.Levels];
                for (int l = 0; l < model.Levels; l++) sids[start + i][l] = (uint)flat[(i * model.Levels) + l];
                mse[start + i] = err[i];
                cos[start + i] = c[i];
            }
        }
        return (sids, mse, cos);
    }

    private static ReconstructionStats Stats(int[] items, double[] mse, double[] cos) =>
        items.Length == 0 ? ReconstructionStats.Empty
            : new ReconstructionStats(items.Length, items.Average(i => mse[i]), items.Average(i => cos[i]));
}
