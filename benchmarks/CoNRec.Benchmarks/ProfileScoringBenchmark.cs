using BenchmarkDotNet.Attributes;
using CoNRec.Core;

namespace CoNRec.Benchmarks;

/// <summary>
/// The served rule (<see cref="ProfileScoring.Score"/>, the code FilterCandidates, tune and eval share) for one request
/// of 500 candidates, d=256: today's 20-SID path (predicted SIDs only) against the full negative profile of 20
/// predicted + 10 recent negatives + 10 recent positives with the guard on. Issue 9's target is ≤ 1.3× CPU per
/// request for the whole call; this isolates the scoring share of it (the profile scores 40 rows instead of 20).
/// </summary>
[MemoryDiagnoser]
public class ProfileScoringBenchmark
{
    public const int Candidates = 500, Predicted = 20, Recent = 10, Levels = 3, Codes = 8192, Dimension = 256;

    private ulong[] _candidateSids = null!, _negativeSids = null!, _positiveSids = null!;
    private float[] _candidates = null!, _negatives = null!, _positives = null!;
    private float[] _score = null!, _positive = null!, _scratch = null!;
    private int[] _index = null!, _scratchIndex = null!;
    private MatchSource[] _source = null!;

    [GlobalSetup]
    public void Setup()
    {
        var codebook = BenchData.GaussianCodebook(Levels, Codes, Dimension, seed: 42);
        var rng = new Random(44);
        _candidateSids = BenchData.RandomSids(codebook.Layout, Candidates, rng);
        _negativeSids = BenchData.RandomSids(codebook.Layout, Predicted + Recent, rng);
        _positiveSids = BenchData.RandomSids(codebook.Layout, Recent, rng);
        // A few exact matches, as in real traffic: the exact-match path runs too.
        _candidateSids[3] = _negativeSids[1];
        _candidateSids[7] = _negativeSids[Predicted + 2];
        _candidateSids[11] = _positiveSids[0];
        _candidates = Rows(codebook, _candidateSids);
        _negatives = Rows(codebook, _negativeSids);
        _positives = Rows(codebook, _positiveSids);
        _score = new float[Candidates];
        _positive = new float[Candidates];
        _scratch = new float[Candidates];
        _index = new int[Candidates];
        _scratchIndex = new int[Candidates];
        _source = new MatchSource[Candidates];
    }

    private static float[] Rows(Codebook codebook, ulong[] sids)
    {
        var rows = new float[sids.Length * Dimension];
        for (int i = 0; i < sids.Length; i++)
        {
            var row = rows.AsSpan(i * Dimension, Dimension);
            codebook.Reconstruct(sids[i], row);
            float norm = MathF.Sqrt(System.Numerics.Tensors.TensorPrimitives.Dot(row, row));
            System.Numerics.Tensors.TensorPrimitives.Divide(row, norm, row);
        }
        return rows;
    }

    [Benchmark(Baseline = true, Description = "20 predicted SIDs (today's path)")]
    public float Predicted20()
    {
        var profile = new ProfileRows
        {
            NegativeRows = _negatives.AsSpan(0, Predicted * Dimension), NegativeSids = _negativeSids.AsSpan(0, Predicted), Predicted = Predicted,
        };
        ProfileScoring.Score(_candidates, _candidateSids, Dimension, profile, ProfileRule.Plain, _score, _index, _source, _positive, _scratch, _scratchIndex);
        return _score[Candidates - 1];
    }

    [Benchmark(Description = "profile 20 + 10 + 10, guard on")]
    public float Profile20_10_10()
    {
        var profile = new ProfileRows
        {
            NegativeRows = _negatives, NegativeSids = _negativeSids, Predicted = Predicted, RecentNegatives = Recent,
            PositiveRows = _positives, PositiveSids = _positiveSids,
        };
        ProfileScoring.Score(_candidates, _candidateSids, Dimension, profile, new ProfileRule(0.25f, 0.8f), _score, _index, _source, _positive, _scratch, _scratchIndex);
        return _score[Candidates - 1];
    }
}
