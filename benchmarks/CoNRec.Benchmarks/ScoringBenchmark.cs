using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using CoNRec.Core;

namespace CoNRec.Benchmarks;

/// <summary>
/// One FilterCandidates request's scoring: 500 candidates × 20 predicted SIDs, L=3, K=8192, d=256.
/// <see cref="MaxCosine"/> is the cached hot path (target ≤ 100 µs, 0 B allocated); <see cref="ReconstructAndScore"/>
/// adds reconstructing all 520 SIDs from the codebook (every cache lookup missing); <see cref="NaiveDot"/> is the
/// n·m separate dot products the blocked kernel replaces.
/// </summary>
[MemoryDiagnoser]
public class ScoringBenchmark
{
    public const int Candidates = 500, Predicted = 20, Levels = 3, Codes = 8192, Dimension = 256;

    private Codebook _codebook = null!;
    private ulong[] _candidateSids = null!, _predictedSids = null!;
    private float[] _candidates = null!, _predicted = null!;
    private float[] _candidateBuffer = null!, _predictedBuffer = null!;
    private float[] _best = null!;
    private int[] _index = null!;

    [GlobalSetup]
    public void Setup()
    {
        _codebook = BenchData.GaussianCodebook(Levels, Codes, Dimension, seed: 42);
        var rng = new Random(43);
        _candidateSids = BenchData.RandomSids(_codebook.Layout, Candidates, rng);
        _predictedSids = BenchData.RandomSids(_codebook.Layout, Predicted, rng);
        _candidates = Reconstruct(_candidateSids);
        _predicted = Reconstruct(_predictedSids);
        _candidateBuffer = new float[Candidates * Dimension];
        _predictedBuffer = new float[Predicted * Dimension];
        _best = new float[Candidates];
        _index = new int[Candidates];
        CheckKernelsAgree();
    }

    private float[] Reconstruct(ulong[] sids)
    {
        var rows = new float[sids.Length * Dimension];
        for (int i = 0; i < sids.Length; i++) _codebook.Reconstruct(sids[i], rows.AsSpan(i * Dimension, Dimension));
        return rows;
    }

    /// <summary>Benchmarks that compute different answers measure nothing: fail the setup instead.</summary>
    private void CheckKernelsAgree()
    {
        MaxCosine();
        var blocked = _best.ToArray();
        var blockedIndex = _index.ToArray();
        NaiveDot();
        for (int i = 0; i < Candidates; i++)
        {
            if (Math.Abs(blocked[i] - _best[i]) > 1e-4f || (blockedIndex[i] != _index[i] && Math.Abs(blocked[i] - _best[i]) > 1e-6f))
                throw new InvalidOperationException($"kernels disagree at candidate {i}: {blocked[i]}@{blockedIndex[i]} vs {_best[i]}@{_index[i]}");
        }
    }

    [Benchmark(Description = "MaxCosine (cached reconstructions)")]
    public float MaxCosine()
    {
        Similarity.MaxCosine(_candidates, _predicted, Dimension, _best, _index);
        return _best[Candidates - 1];
    }

    [Benchmark(Description = "Reconstruct 520 SIDs + MaxCosine")]
    public float ReconstructAndScore()
    {
        var cb = _codebook;
        for (int i = 0; i < _candidateSids.Length; i++) cb.Reconstruct(_candidateSids[i], _candidateBuffer.AsSpan(i * Dimension, Dimension));
        for (int j = 0; j < _predictedSids.Length; j++) cb.Reconstruct(_predictedSids[j], _predictedBuffer.AsSpan(j * Dimension, Dimension));
        Similarity.MaxCosine(_candidateBuffer, _predictedBuffer, Dimension, _best, _index);
        return _best[Candidates - 1];
    }

    [Benchmark(Baseline = true, Description = "Naive: TensorPrimitives.Dot per pair")]
    public float NaiveDot()
    {
        ReadOnlySpan<float> c = _candidates, p = _predicted;
        for (int i = 0; i < Candidates; i++)
        {
            var row = c.Slice(i * Dimension, Dimension);
            float best = float.NegativeInfinity;
            int arg = -1;
            for (int j = 0; j < Predicted; j++)
            {
                float s = TensorPrimitives.Dot(row, p.Slice(j * Dimension, Dimension));
                if (s > best) { best = s; arg = j; }
            }
            _best[i] = best;
            _index[i] = arg;
        }
        return _best[Candidates - 1];
    }
}
