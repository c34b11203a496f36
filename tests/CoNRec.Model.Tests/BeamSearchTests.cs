using CoNRec.Core;
using CoNRec.Model.Checkpoint;
using CoNRec.Model.Generation;
using CoNRec.Model.Qwen3;
using CoNRec.Testing;
using TorchSharp;
using Xunit;

namespace CoNRec.Model.Tests;

public sealed class BeamSearchTests : IDisposable
{
    // Vocabulary 96: ids 40.. carry the SID tokens, level l code c at 40 + l·K + c.
    private const int Levels = 3, Codes = 4, SidBase = 40;
    private readonly TempDir _dir = new();
    private readonly Qwen3Config _config = TinyCheckpoint.Config(vocab: 96, layers: 2);
    private readonly Qwen3ForCausalLM _model;
    private readonly SidLayout _layout = new(Levels, Codes);

    public BeamSearchTests()
    {
        TinyCheckpoint.Write(_dir.Path, _config, seed: 31);
        _model = Qwen3Checkpoint.Load(_dir.Path);
    }

    public void Dispose()
    {
        _model.Dispose();
        _dir.Dispose();
    }

    private static int[][] TokenIds() => [.. Enumerable.Range(0, Levels).Select(l => Enumerable.Range(0, Codes).Select(c => SidBase + l * Codes + c).ToArray())];

    private ulong[] RandomCatalog(int count, int seed)
    {
        var rng = new Random(seed);
        var set = new HashSet<ulong>();
        while (set.Count < count) set.Add(_layout.Pack([(uint)rng.Next(Codes), (uint)rng.Next(Codes), (uint)rng.Next(Codes)]));
        return [.. set];
    }

    private ConstrainedBeamSearch Search(SidTrie trie, int beams, int topK, int batch = 16, bool cache = true) =>
        new(_model, trie, new BeamSearchOptions { BeamWidth = beams, TopK = topK, MaxBatchUsers = batch, UseKvCache = cache }, padTokenId: 0, torch.CPU);

    /// <summary>Σ over levels of log_softmax(full vocabulary)[token], by one full forward over prompt + SID tokens.</summary>
    private double ExhaustiveScore(int[] prompt, ulong sid)
    {
        var c = new uint[Levels];
        _layout.Unpack(sid, c);
        var tokens = prompt.Concat(Enumerable.Range(0, Levels).Select(l => SidBase + l * Codes + (int)c[l])).ToArray();
        var lp = ModelHarness.LogProbs(_model, tokens);
        double s = 0;
        for (int l = 0; l < Levels; l++) s += lp[prompt.Length - 1 + l][tokens[prompt.Length + l]];
        return s;
    }

    [Fact]
    public void With_beams_covering_every_valid_sid_it_returns_exactly_the_exhaustive_top_k()
    {
        var catalog = RandomCatalog(30, seed: 1);
        using var trie = SidTrie.Build(_layout, catalog, TokenIds(), _config.VocabSize, torch.CPU);
        var rng = new Random(4);
        int[][] prompts = [ModelHarness.RandomTokens(rng, 7, SidBase), ModelHarness.RandomTokens(rng, 3, SidBase), ModelHarness.RandomTokens(rng, 12, SidBase)];
        var results = Search(trie, beams: 32, topK: 10).Generate(prompts);

        for (int p = 0; p < prompts.Length; p++)
        {
            var exhaustive = catalog.Select(s => (Sid: s, Score: ExhaustiveScore(prompts[p], s))).OrderByDescending(x => x.Score).Take(10).ToArray();
            Assert.Equal(exhaustive.Select(x => x.Sid), results[p].Select(r => r.Sid));
            for (int i = 0; i < 10; i++) Assert.Equal(exhaustive[i].Score, results[p][i].LogProb, 1e-4);
        }
    }

    [Fact]
    public void Every_output_is_a_distinct_catalog_sid_ranked_by_score()
    {
        var catalog = RandomCatalog(45, seed: 2);
        var set = catalog.ToHashSet();
        using var trie = SidTrie.Build(_layout, catalog.Concat(catalog.Take(5)), TokenIds(), _config.VocabSize, torch.CPU); // duplicates: items sharing a SID
        Assert.Equal(45, trie.Count);
        var rng = new Random(8);
        var prompts = Enumerable.Range(0, 9).Select(i => ModelHarness.RandomTokens(rng, 2 + i, SidBase)).ToArray();
        var results = Search(trie, beams: 8, topK: 6, batch: 4).Generate(prompts);
        foreach (var r in results)
        {
            Assert.Equal(6, r.Length);
            Assert.All(r, g => Assert.Contains(g.Sid, set));
            Assert.Equal(r.Length, r.Select(g => g.Sid).Distinct().Count());
            Assert.True(r.Zip(r.Skip(1)).All(x => x.First.LogProb >= x.Second.LogProb));
            Assert.All(r, g => Assert.True(g.LogProb < 0));
        }
    }

    [Fact]
    public void Batched_equals_unbatched_and_kv_cache_equals_recomputation()
    {
        var catalog = RandomCatalog(40, seed: 3);
        using var trie = SidTrie.Build(_layout, catalog, TokenIds(), _config.VocabSize, torch.CPU);
        var rng = new Random(12);
        var prompts = Enumerable.Range(0, 7).Select(i => ModelHarness.RandomTokens(rng, 1 + 3 * i, SidBase)).ToArray();
        var batched = Search(trie, 10, 10, batch: 7).Generate(prompts);
        var single = Search(trie, 10, 10, batch: 1).Generate(prompts);
        var recompute = Search(trie, 10, 10, batch: 3, cache: false).Generate(prompts);
        for (int p = 0; p < prompts.Length; p++)
        {
            Assert.Equal(single[p].Select(g => g.Sid), batched[p].Select(g => g.Sid));
            Assert.Equal(single[p].Select(g => g.Sid), recompute[p].Select(g => g.Sid));
            for (int i = 0; i < single[p].Length; i++)
            {
                Assert.Equal(single[p][i].LogProb, batched[p][i].LogProb, 1e-4);
                Assert.Equal(single[p][i].LogProb, recompute[p][i].LogProb, 1e-4);
            }
        }
    }

    [Fact]
    public void Fewer_catalog_sids_than_beams_returns_only_valid_ones()
    {
        ulong[] catalog = [_layout.Pack([1, 2, 3]), _layout.Pack([1, 2, 0]), _layout.Pack([3, 0, 0])];
        using var trie = SidTrie.Build(_layout, catalog, TokenIds(), _config.VocabSize, torch.CPU);
        var r = Search(trie, beams: 8, topK: 8).Generate([[1, 2, 3]])[0];
        Assert.Equal(catalog.Order(), r.Select(g => g.Sid).Order());
        Assert.All(r, g => Assert.True(float.IsFinite(g.LogProb)));
    }

    [Fact]
    public void Trie_tables_have_one_row_per_prefix_and_the_largest_fan_out_as_width()
    {
        ulong[] catalog = [_layout.Pack([0, 0, 0]), _layout.Pack([0, 0, 1]), _layout.Pack([0, 1, 3]), _layout.Pack([2, 3, 3])];
        using var trie = SidTrie.Build(_layout, catalog, TokenIds(), _config.VocabSize, torch.CPU);
        Assert.Equal([1, 2, 3], trie.NodesPerLevel); // root; prefixes (0), (2); prefixes (0,0), (0,1), (2,3)
        Assert.Equal([2, 2, 2], trie.FanOut);
    }

    [Fact]
    public void Invalid_options_and_tables_are_refused_with_the_limit()
    {
        using var trie = SidTrie.Build(_layout, RandomCatalog(5, 9), TokenIds(), _config.VocabSize, torch.CPU);
        Assert.Contains("top-k 21 must be in [1, beam width 20]", Assert.Throws<ArgumentException>(() => Search(trie, 20, 21)).Message);
        Assert.Contains("beam width 0", Assert.Throws<ArgumentException>(() => Search(trie, 0, 1)).Message);
        var bad = TokenIds();
        bad[2][1] = 500;
        Assert.Contains("level 2 code 1 has id 500", Assert.Throws<ArgumentException>(() => SidTrie.Build(_layout, RandomCatalog(5, 9), bad, _config.VocabSize, torch.CPU)).Message);
        Assert.Contains("catalog is empty", Assert.Throws<ArgumentException>(() => SidTrie.Build(_layout, [], TokenIds(), _config.VocabSize, torch.CPU)).Message);
    }
}
