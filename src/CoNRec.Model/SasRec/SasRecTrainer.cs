using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.SasRec;

public sealed record SasRecResult(SasRecModel Model, int Epochs, double BestValidationLoss, IReadOnlyList<double> TrainLosses, TimeSpan Wall) : IDisposable
{
    public void Dispose() => Model.Dispose();
}

/// <summary>Trains <see cref="SasRecModel"/> on next-item cross-entropy at every position; keeps the best held-out epoch.</summary>
public static class SasRecTrainer
{
    /// <param name="sequences">training users' item sequences, oldest first, items numbered 1..<paramref name="items"/></param>
    /// <param name="validation">held-out users' sequences</param>
    public static SasRecResult Train(int items, IReadOnlyList<int[]> sequences, IReadOnlyList<int[]> validation, SasRecOptions o, IProgress<int>? epochs = null)
    {
        o.Validate();
        var clock = Stopwatch.StartNew();
        torch.manual_seed(o.Seed);
        var model = new SasRecModel(items, o);
        var rng = new Random(o.Seed);
        var train = sequences.Where(s => s.Length >= 2).ToList();
        if (train.Count == 0) throw new ArgumentException("SASRec needs users with at least two negatives");
        using var optimizer = torch.optim.Adam(model.parameters(), lr: o.LearningRate, beta2: 0.98);
        double best = double.PositiveInfinity;
        List<Tensor>? bestState = null;
        int sinceBest = 0, epoch = 0;
        var losses = new List<double>();
        for (; epoch < o.MaxEpochs; epoch++)
        {
            model.train();
            var order = Enumerable.Range(0, train.Count).ToArray();
            rng.Shuffle(order);
            double sum = 0;
            int batches = 0;
            for (int b = 0; b < order.Length; b += o.BatchSize)
            {
                using var scope = NewDisposeScope();
                var batch = order.Skip(b).Take(o.BatchSize).Select(i => train[i]).ToList();
                optimizer.zero_grad();
                var loss = Loss(model, batch, o.MaxLength);
                loss.backward();
                optimizer.step();
                sum += loss.item<float>();
                batches++;
            }
            losses.Add(sum / batches);
            epochs?.Report(epoch + 1);
            double val = validation.Count > 0 ? ValidationLoss(model, validation, o) : losses[^1];
            if (val < best - 1e-5)
            {
                best = val;
                if (bestState is not null) foreach (var t in bestState) t.Dispose();
                using (torch.no_grad()) bestState = [.. model.parameters().Select(p => p.detach().clone())];
                sinceBest = 0;
            }
            else if (++sinceBest >= o.Patience) { epoch++; break; }
        }
        if (bestState is not null)
        {
            using (torch.no_grad())
            {
                var ps = model.parameters().ToList();
                for (int i = 0; i < ps.Count; i++) ps[i].copy_(bestState[i]);
            }
            foreach (var t in bestState) t.Dispose();
        }
        model.eval();
        return new SasRecResult(model, epoch, best, losses, clock.Elapsed);
    }

    private static double ValidationLoss(SasRecModel model, IReadOnlyList<int[]> validation, SasRecOptions o)
    {
        model.eval();
        using var _ = torch.no_grad();
        double sum = 0;
        int batches = 0;
        var usable = validation.Where(s => s.Length >= 2).ToList();
        for (int b = 0; b < usable.Count; b += o.BatchSize)
        {
            using var scope = NewDisposeScope();
            sum += Loss(model, usable.Skip(b).Take(o.BatchSize).ToList(), o.MaxLength).item<float>();
            batches++;
        }
        return batches == 0 ? double.PositiveInfinity : sum / batches;
    }

    /// <summary>Mean cross-entropy of every next item (inputs s[..^1], targets s[1..], padding ignored).</summary>
    private static Tensor Loss(SasRecModel model, IReadOnlyList<int[]> batch, int maxLength)
    {
        int t = Math.Min(maxLength, batch.Max(s => s.Length) - 1);
        var input = new long[batch.Count * t];
        var target = new long[batch.Count * t];
        for (int i = 0; i < batch.Count; i++)
        {
            var s = batch[i];
            int len = Math.Min(t, s.Length - 1);
            for (int j = 0; j < len; j++)
            {
                // Left padded: the last positions hold the newest items.
                input[i * t + (t - len + j)] = s[s.Length - 1 - len + j];
                target[i * t + (t - len + j)] = s[s.Length - len + j];
            }
        }
        var ids = torch.tensor(input, [batch.Count, t]);
        var hidden = model.forward(ids);                                                   // [N, T, d]
        var logits = torch.matmul(hidden, model.ItemEmbeddings.t());                       // [N, T, items + 1]
        return nn.functional.cross_entropy(logits.view(-1, logits.shape[2]), torch.tensor(target), ignore_index: 0);
    }

    /// <summary>Item indices (1-based) of the top <paramref name="k"/> next items after each history (oldest first), best first.</summary>
    public static int[][] Predict(SasRecModel model, IReadOnlyList<int[]> histories, int k, int maxLength, int batchSize = 256)
    {
        model.eval();
        using var _ = torch.no_grad();
        var result = new int[histories.Count][];
        for (int b = 0; b < histories.Count; b += batchSize)
        {
            using var scope = NewDisposeScope();
            var batch = histories.Skip(b).Take(batchSize).ToList();
            int t = Math.Max(1, Math.Min(maxLength, batch.Max(h => h.Length)));
            var input = new long[batch.Count * t];
            for (int i = 0; i < batch.Count; i++)
            {
                var h = batch[i];
                int len = Math.Min(t, h.Length);
                for (int j = 0; j < len; j++) input[i * t + (t - len + j)] = h[h.Length - len + j];
            }
            var hidden = model.forward(torch.tensor(input, [batch.Count, t])).select(1, t - 1);    // [N, d]
            var scores = torch.matmul(hidden, model.ItemEmbeddings.t());
            scores[.., 0] = float.NegativeInfinity;                                                 // never the padding item
            var top = scores.topk(Math.Min(k, (int)scores.shape[1] - 1), dim: 1).indexes.data<long>().ToArray();
            int kk = top.Length / batch.Count;
            for (int i = 0; i < batch.Count; i++) result[b + i] = [.. top.Skip(i * kk).Take(kk).Select(x => (int)x)];
        }
        return result;
    }
}
