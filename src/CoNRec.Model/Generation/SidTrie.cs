using CoNRec.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Generation;

/// <summary>
/// The catalog's SIDs as a prefix trie, held on the device as per-level padded transition tables so that masking
/// the vocabulary and advancing beams are tensor ops (no host round trip per step):
/// <c>Codes[l][node, j]</c> is the j-th valid code after that node (-1 = padding) and <c>Next[l][node, j]</c> the
/// child it leads to. Width is the level's largest fan-out, so memory is nodes × fan-out, not nodes × K.
/// </summary>
public sealed class SidTrie : IDisposable
{
    public SidLayout Layout { get; }
    public int Count { get; }
    public IReadOnlyList<int> NodesPerLevel { get; }
    public IReadOnlyList<int> FanOut { get; }
    internal Tensor[] Codes { get; }
    internal Tensor[] Next { get; }
    /// <summary>[L, K] vocabulary id of each (level, code) and [L, V + 1] the inverse (-1 elsewhere; column V is a sink).</summary>
    internal Tensor TokenOfCode { get; }
    internal Tensor CodeOfToken { get; }
    public int VocabSize { get; }

    private SidTrie(SidLayout layout, int count, int[] nodes, int[] fanOut, Tensor[] codes, Tensor[] next, Tensor tokenOfCode, Tensor codeOfToken, int vocab)
    {
        Layout = layout; Count = count; NodesPerLevel = nodes; FanOut = fanOut; Codes = codes; Next = next;
        TokenOfCode = tokenOfCode; CodeOfToken = codeOfToken; VocabSize = vocab;
    }

    /// <param name="sids">catalog SIDs (duplicates allowed: several items may share one SID)</param>
    /// <param name="tokenIds">tokenIds[l][c] = vocabulary id of code c at level l</param>
    public static SidTrie Build(SidLayout layout, IEnumerable<ulong> sids, IReadOnlyList<int[]> tokenIds, int vocabSize, Device device)
    {
        int levels = layout.Levels;
        if (tokenIds.Count != levels) throw new ArgumentException($"token table has {tokenIds.Count} levels, layout has {levels}");
        // Sorted lexicographically by (code 0, code 1, ...); the packed form puts level 0 in the low bits, so reverse it.
        var distinct = sids.Distinct().OrderBy(s => LexKey(layout, s)).ToArray();
        if (distinct.Length == 0) throw new ArgumentException("the catalog is empty: no SID can be generated");

        // children[l][node] = ordered (code, child node index at level l+1)
        var children = new List<List<(int Code, int Child)>>[levels];
        for (int l = 0; l < levels; l++) children[l] = [];
        children[0].Add([]);
        Span<uint> codes = stackalloc uint[levels];
        var lastNode = new int[levels + 1];
        var lastCode = new long[levels];
        Array.Fill(lastCode, -1);
        foreach (var sid in distinct)
        {
            layout.Unpack(sid, codes);
            int node = 0;
            bool fresh = false;
            for (int l = 0; l < levels; l++)
            {
                if (!fresh && lastCode[l] == codes[l]) { node = lastNode[l + 1]; continue; }
                fresh = true; // sorted input: once a level differs, every deeper node is new
                int child = l + 1 < levels ? children[l + 1].Count : -1;
                if (l + 1 < levels) children[l + 1].Add([]);
                children[l][node].Add(((int)codes[l], child));
                lastCode[l] = codes[l];
                lastNode[l + 1] = child;
                node = child;
            }
        }

        var codeT = new Tensor[levels];
        var nextT = new Tensor[levels];
        var nodes = new int[levels];
        var fan = new int[levels];
        for (int l = 0; l < levels; l++)
        {
            nodes[l] = children[l].Count;
            fan[l] = children[l].Max(c => c.Count);
            var c = new long[nodes[l] * fan[l]];
            var n = new long[nodes[l] * fan[l]];
            Array.Fill(c, -1);
            for (int i = 0; i < nodes[l]; i++)
                for (int j = 0; j < children[l][i].Count; j++)
                {
                    c[i * fan[l] + j] = children[l][i][j].Code;
                    n[i * fan[l] + j] = Math.Max(children[l][i][j].Child, 0);
                }
            codeT[l] = torch.tensor(c, [nodes[l], fan[l]], device: device);
            nextT[l] = torch.tensor(n, [nodes[l], fan[l]], device: device);
        }

        int k = layout.CodesPerLevel;
        var tok = new long[levels * k];
        var inv = new long[levels * (vocabSize + 1)];
        Array.Fill(inv, -1);
        for (int l = 0; l < levels; l++)
        {
            if (tokenIds[l].Length != k) throw new ArgumentException($"level {l} has {tokenIds[l].Length} token ids, expected {k}");
            for (int code = 0; code < k; code++)
            {
                int id = tokenIds[l][code];
                if ((uint)id >= (uint)vocabSize) throw new ArgumentException($"SID token for level {l} code {code} has id {id}, outside the model's vocabulary of {vocabSize}");
                tok[l * k + code] = id;
                inv[l * (vocabSize + 1) + id] = code;
            }
        }
        return new SidTrie(layout, distinct.Length, nodes, fan, codeT, nextT,
            torch.tensor(tok, [levels, k], device: device), torch.tensor(inv, [levels, vocabSize + 1], device: device), vocabSize);
    }

    private static ulong LexKey(SidLayout layout, ulong packed)
    {
        Span<uint> c = stackalloc uint[layout.Levels];
        layout.Unpack(packed, c);
        ulong key = 0;
        for (int l = 0; l < c.Length; l++) key = (key << layout.BitsPerCode) | c[l];
        return key;
    }

    /// <summary>Bool mask [M, V]: which vocabulary ids may follow each of the M nodes at <paramref name="level"/>.</summary>
    internal Tensor AllowedTokens(int level, Tensor nodes)
    {
        using var scope = NewDisposeScope();
        var codes = Codes[level].index_select(0, nodes);                             // [M, F]
        var valid = codes.ge(0);
        var tokens = TokenOfCode[level].index_select(0, codes.clamp_min(0).flatten()).view(codes.shape);
        tokens = tokens.masked_fill(valid.logical_not(), VocabSize);                  // padding → sink column
        var mask = torch.zeros([nodes.shape[0], VocabSize + 1], ScalarType.Bool, nodes.device);
        mask.scatter_(1, tokens, torch.ones(tokens.shape, ScalarType.Bool, nodes.device));
        return mask.narrow(1, 0, VocabSize).MoveToOuterDisposeScope();
    }

    /// <summary>Codes [M] of chosen tokens at <paramref name="level"/>, and the child node each leads to.</summary>
    internal (Tensor Codes, Tensor Children) Advance(int level, Tensor parents, Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var code = CodeOfToken[level].index_select(0, tokens);                         // [M]
        var row = Codes[level].index_select(0, parents);                              // [M, F]
        var slot = row.eq(code.unsqueeze(1)).to_type(ScalarType.Int64).argmax(1, keepdim: true);
        var child = Next[level].index_select(0, parents).gather(1, slot).squeeze(1);
        return (code.MoveToOuterDisposeScope(), child.MoveToOuterDisposeScope());
    }

    public void Dispose()
    {
        foreach (var t in Codes) t.Dispose();
        foreach (var t in Next) t.Dispose();
        TokenOfCode.Dispose();
        CodeOfToken.Dispose();
    }
}
