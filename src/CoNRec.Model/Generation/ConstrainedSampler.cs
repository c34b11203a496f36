using CoNRec.Model.Qwen3;
using CoNRec.Model.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Generation;

/// <summary>Sampled SIDs: their tokens [B][L], the packed SIDs, and the trie's allowed-token masks [B, L, V] (bool).</summary>
public sealed record SampledSids(int[][] Tokens, ulong[] Sids, Tensor Allowed) : IDisposable
{
    public void Dispose() => Allowed.Dispose();
}

/// <summary>
/// GRPO's rollouts: one SID per prompt row, drawn token by token from softmax(logits / T) restricted to the codes
/// the catalog trie allows after the prefix (masked, renormalised), so every output is a catalog SID. Each step
/// re-runs the prefix (L is 3-4 tokens; no cache bookkeeping to get wrong); the generator makes draws reproducible.
/// </summary>
public static class ConstrainedSampler
{
    public static SampledSids Sample(Qwen3ForCausalLM model, SidTrie trie, IReadOnlyList<int[]> prompts, int padId, double temperature, Generator generator)
    {
        using var noGrad = torch.no_grad();
        int n = prompts.Count, levels = trie.Layout.Levels, vocab = model.Config.VocabSize;
        var device = model.Decoder.EmbeddingWeight.device;
        var tokens = new int[n][];
        for (int i = 0; i < n; i++) tokens[i] = new int[levels];
        var masks = new List<Tensor>();
        var nodes = torch.zeros(n, ScalarType.Int64, device: device);
        var codes = new long[levels][];
        try
        {
            for (int l = 0; l < levels; l++)
            {
                using var scope = NewDisposeScope();
                var logits = LastLogits(model, prompts, tokens, l, padId, device);                 // [N, V]
                var allowed = trie.AllowedTokens(l, nodes);                                          // [N, trie V]
                if (allowed.shape[1] < vocab)
                    allowed = torch.cat([allowed, torch.zeros([n, vocab - allowed.shape[1]], ScalarType.Bool, device)], 1);
                var probs = (logits / temperature).masked_fill(allowed.logical_not(), float.NegativeInfinity).softmax(-1);
                var drawn = torch.multinomial(probs.cpu(), 1, generator: generator).squeeze(1).to(device);
                var (code, child) = trie.Advance(l, nodes, drawn);
                var drawnIds = drawn.cpu().data<long>().ToArray();
                for (int i = 0; i < n; i++) tokens[i][l] = (int)drawnIds[i];
                codes[l] = code.cpu().data<long>().ToArray();
                masks.Add(allowed.MoveToOuterDisposeScope());
                nodes.Dispose();
                nodes = child.MoveToOuterDisposeScope();
            }
            var sids = new ulong[n];
            Span<uint> c = stackalloc uint[levels];
            for (int i = 0; i < n; i++)
            {
                for (int l = 0; l < levels; l++) c[l] = (uint)codes[l][i];
                sids[i] = trie.Layout.Pack(c);
            }
            var allowedAll = torch.stack(masks, 1); // [N, L, V]
            return new SampledSids(tokens, sids, allowedAll);
        }
        finally
        {
            foreach (var m in masks) m.Dispose();
            nodes.Dispose();
        }
    }

    private static Tensor LastLogits(Qwen3ForCausalLM model, IReadOnlyList<int[]> prompts, int[][] tokens, int level, int padId, Device device)
    {
        int n = prompts.Count;
        int t = prompts.Max(p => p.Length) + level;
        var ids = new long[n * t];
        var valid = new bool[n * t];
        var last = new long[n];
        Array.Fill(ids, padId);
        for (int i = 0; i < n; i++)
        {
            var p = prompts[i];
            int len = p.Length + level;
            for (int j = 0; j < len; j++)
            {
                ids[i * t + j] = j < p.Length ? p[j] : tokens[i][j - p.Length];
                valid[i * t + j] = true;
            }
            last[i] = len - 1;
        }
        var inputIds = torch.tensor(ids, [n, t], device: device);
        var keyValid = torch.tensor(valid, [n, t], device: device);
        var positions = torch.arange(t, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(n, t);
        var mask = AttentionMasks.Build(keyValid, t, model.Decoder.EmbeddingWeight.dtype);
        var hidden = model.Decoder.Forward(inputIds, positions, mask, null);
        var index = torch.tensor(last, device: device).view(n, 1, 1).expand(n, 1, hidden.shape[2]);
        return model.Head(hidden.gather(1, index).squeeze(1)).to_type(ScalarType.Float32);
    }
}
