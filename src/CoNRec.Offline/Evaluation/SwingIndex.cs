namespace CoNRec.Offline.Evaluation;

/// <summary>
/// Item-to-item Swing similarity on negative feedback (paper Eq. 5), used to expand a user's future negatives
/// with collaborative items. Our reading of Eq. 5, for items i ≠ j:
/// <code>
/// Swi(i, j) = Id(|C|) · Σ_{u∈C} Σ_{v∈C, v≠u} w(u) w(v) · |I(u)∩I(v)| / (|I(u)∩I(v)| + α2) · 1/√N_j
/// C = U(i) ∩ U(j),  w(u) = 1 / (|I(u)| + α1)^θ,  N_j = |U(j)|
/// </code>
/// U(i) = the users who gave i negative feedback, I(u) = the distinct items u gave negative feedback to.
/// The double sum runs over ordered pairs, so each unordered pair {u, v} counts twice, as written in the paper.
/// Id(x) = 1 iff x &gt; <see cref="SwingOptions.MinCoUsers"/> and x is the co-user count |C| (the paper only says it
/// "filters out low-collaboration user pairs"; counting co-users is our reading). The 1/√N_j factor makes the score
/// asymmetric: popular targets j are discounted.
/// </summary>
public sealed class SwingIndex
{
    private static readonly IReadOnlyList<(string Item, double Score)> None = [];
    private readonly Dictionary<string, IReadOnlyList<(string Item, double Score)>> _neighbours;

    public SwingOptions Options { get; }

    private SwingIndex(Dictionary<string, IReadOnlyList<(string Item, double Score)>> neighbours, SwingOptions options)
    {
        _neighbours = neighbours;
        Options = options;
    }

    /// <summary>Builds the index from (user, item) negative-feedback pairs; repeated pairs count once.</summary>
    public static SwingIndex Build(IEnumerable<(string User, string Item)> negatives, SwingOptions options)
    {
        ArgumentNullException.ThrowIfNull(negatives);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        // Dense ids in ordinal order, so every result (and the user cap) is independent of input order.
        var pairs = new HashSet<(string User, string Item)>();
        foreach (var (user, item) in negatives)
        {
            if (string.IsNullOrEmpty(user)) throw new ArgumentException($"a negative for item '{item}' has an empty user id", nameof(negatives));
            if (string.IsNullOrEmpty(item)) throw new ArgumentException($"a negative of user '{user}' has an empty item id", nameof(negatives));
            pairs.Add((user, item));
        }
        var users = pairs.Select(p => p.User).Distinct().Order(StringComparer.Ordinal).ToArray();
        var items = pairs.Select(p => p.Item).Distinct().Order(StringComparer.Ordinal).ToArray();
        var userId = Index(users);
        var itemId = Index(items);

        var itemsOf = new List<int>[users.Length];   // I(u), sorted item ids
        var usersOf = new List<int>[items.Length];   // U(i), sorted user ids
        for (int u = 0; u < users.Length; u++) itemsOf[u] = [];
        for (int i = 0; i < items.Length; i++) usersOf[i] = [];
        foreach (var (user, item) in pairs)
        {
            itemsOf[userId[user]].Add(itemId[item]);
            usersOf[itemId[item]].Add(userId[user]);
        }
        foreach (var l in itemsOf) l.Sort();
        foreach (var l in usersOf) l.Sort();

        var weight = new double[users.Length];
        for (int u = 0; u < users.Length; u++) weight[u] = 1.0 / Math.Pow(itemsOf[u].Count + options.Alpha1, options.Theta);

        var result = new Dictionary<string, IReadOnlyList<(string Item, double Score)>>(StringComparer.Ordinal);
        var pairSum = new double[items.Length];
        var coUsers = new int[items.Length];
        var touched = new List<int>();
        var common = new List<int>();
        for (int i = 0; i < items.Length; i++)
        {
            var ui = usersOf[i];
            int n = Math.Min(ui.Count, options.MaxUsersPerItem);
            for (int a = 0; a < n; a++)
            {
                foreach (int j in itemsOf[ui[a]])
                {
                    if (j == i) continue;
                    if (coUsers[j]++ == 0) touched.Add(j);
                }
            }
            for (int a = 0; a < n; a++)
            {
                for (int b = a + 1; b < n; b++)
                {
                    int u = ui[a], v = ui[b];
                    Intersect(itemsOf[u], itemsOf[v], common);
                    // Both u and v disliked every j in I(u)∩I(v), so the pair sits in U(i)∩U(j) for exactly those j.
                    double c = common.Count;
                    double term = 2 * weight[u] * weight[v] * c / (c + options.Alpha2);
                    foreach (int j in common) if (j != i) pairSum[j] += term;
                }
            }
            var scored = new List<(string Item, double Score)>();
            foreach (int j in touched)
            {
                if (coUsers[j] > options.MinCoUsers && pairSum[j] > 0)
                    scored.Add((items[j], pairSum[j] / Math.Sqrt(usersOf[j].Count)));
                coUsers[j] = 0;
                pairSum[j] = 0;
            }
            touched.Clear();
            if (scored.Count == 0) continue;
            scored.Sort(static (x, y) => y.Score != x.Score ? y.Score.CompareTo(x.Score) : string.CompareOrdinal(x.Item, y.Item));
            if (scored.Count > options.TopK) scored.RemoveRange(options.TopK, scored.Count - options.TopK);
            result[items[i]] = scored;
        }
        return new SwingIndex(result, options);
    }

    /// <summary>The item's neighbours with positive score, highest first, ties by ordinal item id; empty if unknown.</summary>
    public IReadOnlyList<(string Item, double Score)> Neighbours(string item) =>
        _neighbours.TryGetValue(item, out var list) ? list : None;

    /// <summary>
    /// Collaborative expansion: each input item contributes its top <paramref name="perItem"/> neighbours; the result is
    /// their distinct union minus the inputs, in input order and then neighbour order.
    /// </summary>
    public IReadOnlyList<string> Expand(IEnumerable<string> items, int perItem)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (perItem < 0) throw new ArgumentOutOfRangeException(nameof(perItem), perItem, "perItem must be ≥ 0");
        var inputs = items.ToList();
        var seen = new HashSet<string>(inputs, StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var item in inputs)
        {
            var neighbours = Neighbours(item);
            for (int k = 0; k < Math.Min(perItem, neighbours.Count); k++)
                if (seen.Add(neighbours[k].Item)) result.Add(neighbours[k].Item);
        }
        return result;
    }

    private static Dictionary<string, int> Index(string[] names)
    {
        var map = new Dictionary<string, int>(names.Length, StringComparer.Ordinal);
        for (int k = 0; k < names.Length; k++) map[names[k]] = k;
        return map;
    }

    private static void Intersect(List<int> a, List<int> b, List<int> into)
    {
        into.Clear();
        int x = 0, y = 0;
        while (x < a.Count && y < b.Count)
        {
            if (a[x] < b[y]) x++;
            else if (a[x] > b[y]) y++;
            else { into.Add(a[x]); x++; y++; }
        }
    }
}
