using System.Globalization;
using CoNRec.Offline.Data;

namespace CoNRec.Offline.Embeddings;

/// <summary>
/// A simple, deterministic item encoder: the input of the RQ-VAE when a dataset ships no item embeddings.
/// The vector is four blocks, each L2-normalised, multiplied by its weight (<see cref="ItemEmbedderOptions"/>), concatenated
/// and L2-normalised again:
/// <list type="number">
/// <item>Categories: every prefix of every category path ("c2", "c2/c2.1", "c2/c2.1/c2.1.0"), signed-hashed with weight 1.
/// Items in the same leaf share all prefixes (cosine 1 in this block), in the same sub-category two of three, and so on, so the
/// block mirrors the hierarchy.</item>
/// <item>Title: lower-cased letter/digit tokens; unigrams, adjacent bigrams and character 3-grams of "&lt;token&gt;",
/// signed-hashed into the text buckets with their own weights (3-grams make "comedy"/"comedies" overlap).</item>
/// <item>Numbers: per name, the z-score over the items that have it (missing → 0, i.e. the mean), clipped to ±3 and encoded as
/// an angle θ = π/4·(1 + z/3) in [0, π/2], written as (cos θ, sin θ) in the name's slot. An angle, not the raw z, because a
/// block that is L2-normalised would otherwise keep only the sign of a single number.</item>
/// <item>Collaborative: U·Σ^½ of a rank-k randomized SVD of the item × user matrix built from the training interactions only
/// (positive +1, negative −1, neutral exposure +0.25, repeated pairs summed; users ordered by id so the result does not
/// depend on input order). Items without training interactions get zeros in this block.</item>
/// <item>Co-dislike: the same factorisation of the negative feedback alone (1 per negative). Likes outnumber dislikes
/// several times, so in the block above items group by what people like; here they group by who dislikes them
/// together, which is what a negative filter needs: a dislike of "bulky" spans shoes and slippers, and shows up as
/// the same users disliking both (the co-occurrence the paper's Swing expansion also uses).</item>
/// </list>
/// </summary>
public static class ItemEmbedder
{
    public static ItemEmbeddings Build(IReadOnlyList<ItemFeatures> items, IReadOnlyList<Interaction> trainInteractions, ItemEmbedderOptions? options = null)
    {
        var o = options ?? new ItemEmbedderOptions();
        o.Validate();
        int dim = o.Dimension, m = items.Count;
        if (m == 0) throw new ArgumentException("no items to embed", nameof(items));
        var index = new Dictionary<string, int>(m, StringComparer.Ordinal);
        for (int i = 0; i < m; i++)
            if (!index.TryAdd(items[i].ItemId, i)) throw new ArgumentException($"item '{items[i].ItemId}' appears twice", nameof(items));

        var numberStats = NumberStatistics(items);
        var factors = CollaborativeFactors(items.Count, index, trainInteractions, o, o.Factors,
            x => x.IsNegative ? o.NegativeValue : x.IsPositive ? o.PositiveValue : o.NeutralValue);
        var dislikes = CollaborativeFactors(items.Count, index, trainInteractions, o, o.NegativeFactors, x => x.IsNegative ? 1 : 0);

        var matrix = new float[checked(m * dim)];
        int catStart = 0, textStart = o.CategoryBuckets, numStart = textStart + o.TextBuckets, cfStart = numStart + 2 * o.NumberSlots;
        int negStart = cfStart + o.Factors;
        for (int i = 0; i < m; i++)
        {
            var row = matrix.AsSpan(i * dim, dim);
            var item = items[i];

            var cat = row.Slice(catStart, o.CategoryBuckets);
            foreach (var path in item.Categories)
                for (int p = 0; p <= path.Length; p++)
                    if (p == path.Length || path[p] == '/')
                        if (p > 0) FeatureHasher.Add(cat, "c", path.AsSpan(0, p), 1f);
            Finish(cat, o.CategoryWeight);

            var text = row.Slice(textStart, o.TextBuckets);
            AddText(text, item.Title, o);
            Finish(text, o.TextWeight);

            var num = row.Slice(numStart, 2 * o.NumberSlots);
            if (o.NumberSlots > 0)
                foreach (var (name, mean, std) in numberStats)
                {
                    double z = item.Numbers.TryGetValue(name, out var v) && std > 0 ? Math.Clamp((v - mean) / std, -3, 3) : 0;
                    double theta = Math.PI / 4 * (1 + z / 3);
                    int slot = (int)(FeatureHasher.Hash("n", name) % (ulong)o.NumberSlots);
                    num[2 * slot] += (float)Math.Cos(theta);
                    num[2 * slot + 1] += (float)Math.Sin(theta);
                }
            Finish(num, o.NumberWeight);

            var cf = row.Slice(cfStart, o.Factors);
            for (int k = 0; k < o.Factors; k++) cf[k] = (float)factors[i, k];
            Finish(cf, o.CollaborativeWeight);

            var neg = row.Slice(negStart, o.NegativeFactors);
            for (int k = 0; k < o.NegativeFactors; k++) neg[k] = (float)dislikes[i, k];
            Finish(neg, o.NegativeCollaborativeWeight);

            Finish(row, 1f);
        }
        return new ItemEmbeddings([.. items.Select(x => x.ItemId)], matrix, dim);
    }

    /// <summary>Lower-cased runs of letters and digits.</summary>
    public static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        int start = -1;
        for (int i = 0; i <= text.Length; i++)
        {
            bool word = i < text.Length && char.IsLetterOrDigit(text[i]);
            if (word && start < 0) start = i;
            else if (!word && start >= 0)
            {
                tokens.Add(text[start..i].ToLower(CultureInfo.InvariantCulture));
                start = -1;
            }
        }
        return tokens;
    }

    private static void AddText(Span<float> block, string title, ItemEmbedderOptions o)
    {
        if (block.IsEmpty) return;
        var tokens = Tokenize(title);
        for (int t = 0; t < tokens.Count; t++)
        {
            FeatureHasher.Add(block, "w", tokens[t], o.UnigramWeight);
            if (t + 1 < tokens.Count) FeatureHasher.Add(block, "b", $"{tokens[t]} {tokens[t + 1]}", o.BigramWeight);
            var padded = $"<{tokens[t]}>";
            for (int g = 0; g + 3 <= padded.Length; g++) FeatureHasher.Add(block, "g", padded.AsSpan(g, 3), o.CharGramWeight);
        }
    }

    /// <summary>L2-normalise then scale; an all-zero block stays zero (e.g. an item without categories).</summary>
    private static void Finish(Span<float> block, float weight)
    {
        double s = 0;
        foreach (var x in block) s += (double)x * x;
        if (s <= 0) return;
        float scale = (float)(weight / Math.Sqrt(s));
        for (int i = 0; i < block.Length; i++) block[i] *= scale;
    }

    private static List<(string Name, double Mean, double Std)> NumberStatistics(IReadOnlyList<ItemFeatures> items)
    {
        var acc = new SortedDictionary<string, (double Sum, double SumSq, long N)>(StringComparer.Ordinal);
        foreach (var item in items)
            foreach (var (name, v) in item.Numbers)
            {
                if (!double.IsFinite(v)) throw new ArgumentException($"item '{item.ItemId}' has a non-finite number '{name}'", nameof(items));
                acc.TryGetValue(name, out var a);
                acc[name] = (a.Sum + v, a.SumSq + v * v, a.N + 1);
            }
        return [.. acc.Select(kv =>
        {
            double mean = kv.Value.Sum / kv.Value.N;
            double variance = Math.Max(0, kv.Value.SumSq / kv.Value.N - mean * mean);
            return (kv.Key, mean, Math.Sqrt(variance));
        })];
    }

    private static double[,] CollaborativeFactors(int itemCount, Dictionary<string, int> index, IReadOnlyList<Interaction> interactions, ItemEmbedderOptions o,
        int rank, Func<Interaction, double> value)
    {
        if (rank == 0) return new double[itemCount, 0];
        var users = new SortedSet<string>(StringComparer.Ordinal);
        var used = new List<Interaction>();
        foreach (var x in interactions)
        {
            if (o.TrainCutoff is { } cutoff && x.Timestamp >= cutoff) continue;
            if (!index.ContainsKey(x.ItemId)) throw new ArgumentException($"interaction of user '{x.UserId}' names unknown item '{x.ItemId}'", nameof(interactions));
            users.Add(x.UserId);
            used.Add(x);
        }
        var userIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var u in users) userIndex[u] = userIndex.Count;

        var cells = new SortedDictionary<long, double>();
        foreach (var x in used)
        {
            double v = value(x);
            if (v == 0) continue;
            long key = (long)index[x.ItemId] * userIndex.Count + userIndex[x.UserId];
            cells[key] = cells.GetValueOrDefault(key) + v;
        }
        var rowStart = new int[itemCount + 1];
        var cols = new int[cells.Count];
        var values = new double[cells.Count];
        int p = 0;
        foreach (var (key, cell) in cells)
        {
            int row = (int)(key / Math.Max(1, userIndex.Count));
            rowStart[row + 1]++;
            cols[p] = (int)(key % Math.Max(1, userIndex.Count));
            values[p++] = cell;
        }
        for (int r = 0; r < itemCount; r++) rowStart[r + 1] += rowStart[r];
        var sparse = new RandomizedSvd.Sparse(itemCount, userIndex.Count, rowStart, cols, values);
        return RandomizedSvd.LeftFactors(sparse, rank, o.Oversampling, o.PowerIterations, o.Seed);
    }
}
