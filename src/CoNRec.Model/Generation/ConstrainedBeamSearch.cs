using System.Diagnostics;
using CoNRec.Core;
using CoNRec.Model.Qwen3;
using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Generation;

/// <summary>A generated SID and its total log-probability (each token's log-softmax over the full vocabulary).</summary>
public readonly record struct GeneratedSid(ulong Sid, float LogProb);

public sealed record BeamSearchOptions
{
    public int BeamWidth { get; init; } = 20;
    public int TopK { get; init; } = 20;
    /// <summary>Users per forward pass; prompts are sorted by length first so padding stays small.</summary>
    public int MaxBatchUsers { get; init; } = 16;
    /// <summary>Off only for the benchmark's naive baseline: recompute the whole sequence at every step.</summary>
    public bool UseKvCache { get; init; } = true;

    public void Validate()
    {
        if (BeamWidth is < 1 or > 1024) throw new ArgumentException($"beam width {BeamWidth} is out of range [1, 1024]");
        if (TopK < 1 || TopK > BeamWidth) throw new ArgumentException($"top-k {TopK} must be in [1, beam width {BeamWidth}]");
        if (TopK > SidSetCodec.MaxCount) throw new ArgumentException($"top-k {TopK} exceeds {SidSetCodec.MaxCount}, the most SIDs a user can store");
        if (MaxBatchUsers is < 1 or > 4096) throw new ArgumentException($"batch size {MaxBatchUsers} is out of range [1, 4096]");
    }
}

/// <summary>Wall time split between prompt prefill and SID decoding (synchronised per phase only when measuring).</summary>
public sealed class PhaseTimings
{
    public TimeSpan Prefill { get; set; }
    public TimeSpan Decode { get; set; }
    public long PromptTokens { get; set; }
    public long PaddedTokens { get; set; }
}

/// <summary>
/// Hugging Face–equivalent constrained beam search over SID tokens: at step l every beam may only emit a code that
/// extends a catalog prefix (the <see cref="SidTrie"/>), scores are running sums of full-vocabulary log-softmax
/// values, and the first step starts from one live beam per user so beams stay distinct. Since every SID has the
/// same length L and EOS is never allowed mid-SID, HF's length-normalised ranking equals ranking by total score.
/// The prompt is prefilled once per user and its KV cache is then expanded to the beams; beam reordering, masks and
/// trie walks all stay on the device, and results come back to the host once per batch.
/// </summary>
public sealed class ConstrainedBeamSearch
{
    private readonly Qwen3ForCausalLM _model;
    private readonly SidTrie _trie;
    private readonly BeamSearchOptions _options;
    private readonly int _padTokenId;
    private readonly Device _device;
    private readonly ScalarType _dtype;

    public PhaseTimings? Timings { get; set; }

    public ConstrainedBeamSearch(Qwen3ForCausalLM model, SidTrie trie, BeamSearchOptions options, int padTokenId, Device device)
    {
        options.Validate();
        if (trie.VocabSize > model.Config.VocabSize)
            throw new ArgumentException($"SID tokens reach id {trie.VocabSize - 1}, beyond the model's vocabulary of {model.Config.VocabSize}");
        _model = model; _trie = trie; _options = options; _padTokenId = padTokenId; _device = device;
        _dtype = model.parameters().First().dtype;
    }

    /// <summary>Generates for any number of prompts: sorted by length, batched, and returned in input order.</summary>
    public GeneratedSid[][] Generate(IReadOnlyList<int[]> prompts)
    {
        var result = new GeneratedSid[prompts.Count][];
        var order = Enumerable.Range(0, prompts.Count).OrderBy(i => prompts[i].Length).ToArray();
        for (int start = 0; start < order.Length; start += _options.MaxBatchUsers)
        {
            var idx = order.AsSpan(start, Math.Min(_options.MaxBatchUsers, order.Length - start)).ToArray();
            var batch = _options.UseKvCache ? GenerateBatch([.. idx.Select(i => prompts[i])]) : GenerateRecompute([.. idx.Select(i => prompts[i])]);
            for (int j = 0; j < idx.Length; j++) result[idx[j]] = batch[j];
        }
        return result;
    }

    private GeneratedSid[][] GenerateBatch(int[][] prompts)
    {
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        int n = prompts.Length, beams = _options.BeamWidth, levels = _trie.Layout.Levels, vocab = _model.Config.VocabSize;
        var sw = Timings is null ? null : Stopwatch.StartNew();

        var (ids, valid) = LeftPad(prompts);
        int t = (int)ids.shape[1];
        using var cache = new KVCache(_model.Config, n, t + levels - 1, _dtype, _device);
        var logp = LastLogProbs(ids, valid, cache);
        MarkPhase(sw, prefill: true);

        // The beams of a user share its prompt cache; only their generated positions are per beam.
        cache.ShareAcrossBeams(beams, levels - 1);
        var expand = torch.arange(n, dtype: ScalarType.Int64, device: _device).repeat_interleave(beams);
        logp = logp.index_select(0, expand);
        var prefixMask = AttentionMasks.Build(valid, 1, _dtype); // [N, 1, 1, P]: padding only; generated keys are all visible
        var nextPos = valid.to_type(ScalarType.Int64).sum(1).index_select(0, expand);
        var (beamScores, nodes, codes, rowBase) = NewBeams(n, beams);

        for (int level = 0; level < levels; level++)
        {
            var (parentRows, tokens) = Step(level, logp, ref beamScores, ref nodes, ref codes, rowBase, n, beams, vocab);
            if (level == levels - 1) break;
            if (level > 0) cache.Select(parentRows); // nothing generated to reorder before the first step
            var h = _model.Decoder.Forward(tokens.view(-1, 1), nextPos.unsqueeze(1), prefixMask, cache);
            nextPos = nextPos + 1;
            logp = _model.Head(h.squeeze(1)).to_type(ScalarType.Float32).log_softmax(-1);
        }
        var result = ToHost(beamScores, codes, n, beams);
        MarkPhase(sw, prefill: false);
        return result;
    }

    /// <summary>The naive baseline: no KV cache, one full forward over prompt + prefix per step (same results, slower).</summary>
    private GeneratedSid[][] GenerateRecompute(int[][] prompts)
    {
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        int n = prompts.Length, beams = _options.BeamWidth, levels = _trie.Layout.Levels, vocab = _model.Config.VocabSize;
        var sw = Timings is null ? null : Stopwatch.StartNew();
        var (ids, valid) = LeftPad(prompts);
        var expand = torch.arange(n, dtype: ScalarType.Int64, device: _device).repeat_interleave(beams);
        var logp = LastLogProbs(ids, valid);
        MarkPhase(sw, prefill: true);
        logp = logp.index_select(0, expand);
        ids = ids.index_select(0, expand);
        valid = valid.index_select(0, expand);
        var (beamScores, nodes, codes, rowBase) = NewBeams(n, beams);
        for (int level = 0; level < levels; level++)
        {
            var (parentRows, tokens) = Step(level, logp, ref beamScores, ref nodes, ref codes, rowBase, n, beams, vocab);
            if (level == levels - 1) break;
            ids = torch.cat([ids.index_select(0, parentRows), tokens.view(-1, 1)], 1);
            valid = torch.cat([valid.index_select(0, parentRows), torch.ones([n * beams, 1], ScalarType.Bool, _device)], 1);
            logp = LastLogProbs(ids, valid);
        }
        var result = ToHost(beamScores, codes, n, beams);
        MarkPhase(sw, prefill: false);
        return result;
    }

    /// <summary>Full-vocabulary log-probabilities [N, V] of the next token after each left-padded prompt.</summary>
    private Tensor LastLogProbs(Tensor ids, Tensor valid, KVCache? cache = null)
    {
        long t = ids.shape[1];
        var h = _model.Decoder.Forward(ids, AttentionMasks.PrefillPositions(valid), AttentionMasks.Build(valid, t, _dtype), cache);
        // Left padding puts every prompt's last real token in the last column; only that row needs the LM head.
        return _model.Head(h.narrow(1, t - 1, 1).squeeze(1)).to_type(ScalarType.Float32).log_softmax(-1);
    }

    /// <summary>One beam step: mask to the trie, add running scores, keep the best B of B × V per user.</summary>
    private (Tensor ParentRows, Tensor Tokens) Step(int level, Tensor logp, ref Tensor beamScores, ref Tensor nodes, ref Tensor codes,
        Tensor rowBase, int n, int beams, int vocab)
    {
        var allowed = _trie.AllowedTokens(level, nodes);
        var scores = logp.masked_fill(allowed.logical_not(), float.NegativeInfinity) + beamScores.view(-1, 1);
        var (top, index) = scores.view(n, (long)beams * vocab).topk(beams, dim: 1);
        var parentBeam = index.div(vocab, rounding_mode: RoundingMode.floor);
        var tokens = index.remainder(vocab).view(-1);
        var parentRows = (rowBase + parentBeam).view(-1);
        var (code, child) = _trie.Advance(level, nodes.index_select(0, parentRows), tokens);
        codes = torch.cat([codes.index_select(0, parentRows), code.unsqueeze(1)], 1);
        nodes = child;
        beamScores = top;
        return (parentRows, tokens);
    }

    /// <summary>
    /// Beam state for n users: scores [n, B] with one live beam per user (so the first step cannot pick the same
    /// token for several beams), trie nodes and codes per beam row, and each user's first row index.
    /// </summary>
    private (Tensor Scores, Tensor Nodes, Tensor Codes, Tensor RowBase) NewBeams(int n, int beams)
    {
        var init = new float[n * beams];
        for (int i = 0; i < init.Length; i++) init[i] = i % beams == 0 ? 0f : float.NegativeInfinity;
        return (torch.tensor(init, [n, beams], device: _device),
            torch.zeros(n * beams, ScalarType.Int64, _device),
            torch.zeros([n * beams, 0], ScalarType.Int64, _device),
            (torch.arange(n, dtype: ScalarType.Int64, device: _device) * beams).unsqueeze(1));
    }

    private (Tensor Ids, Tensor Valid) LeftPad(int[][] prompts)
    {
        int n = prompts.Length, t = prompts.Max(p => p.Length);
        if (t == 0) throw new ArgumentException("every prompt must have at least one token");
        var ids = new long[n * t];
        var valid = new bool[n * t];
        for (int i = 0; i < n; i++)
        {
            int off = t - prompts[i].Length;
            for (int j = 0; j < t; j++)
            {
                bool real = j >= off;
                ids[i * t + j] = real ? prompts[i][j - off] : _padTokenId;
                valid[i * t + j] = real;
            }
        }
        if (Timings is { } tm) { tm.PromptTokens += prompts.Sum(p => (long)p.Length); tm.PaddedTokens += (long)n * t; }
        return (torch.tensor(ids, [n, t], device: _device), torch.tensor(valid, [n, t], device: _device));
    }

    private GeneratedSid[][] ToHost(Tensor beamScores, Tensor codes, int n, int beams)
    {
        int levels = _trie.Layout.Levels, k = _options.TopK;
        var scores = beamScores.cpu().data<float>().ToArray();
        var allCodes = codes.cpu().data<long>().ToArray();
        var result = new GeneratedSid[n][];
        Span<uint> sid = stackalloc uint[levels];
        for (int i = 0; i < n; i++)
        {
            var list = new List<GeneratedSid>(k);
            for (int b = 0; b < beams && list.Count < k; b++) // topk returns beams best-first
            {
                float s = scores[i * beams + b];
                if (float.IsNegativeInfinity(s)) break; // fewer valid SIDs than beams
                for (int l = 0; l < levels; l++) sid[l] = (uint)allCodes[(i * beams + b) * levels + l];
                list.Add(new GeneratedSid(_trie.Layout.Pack(sid), s));
            }
            result[i] = [.. list];
        }
        return result;
    }

    private void MarkPhase(Stopwatch? sw, bool prefill)
    {
        if (sw is null || Timings is null) return;
        if (_device.type == DeviceType.CUDA) torch.cuda.synchronize();
        if (prefill) Timings.Prefill += sw.Elapsed; else Timings.Decode += sw.Elapsed;
        sw.Restart();
    }
}
