using System.Globalization;
using CoNRec.Offline.Data;

namespace CoNRec.Offline.Evaluation;

/// <summary>
/// The evaluation protocol's split into training interactions, validation cases (where thresholds and rule parameters are
/// chosen) and test cases (where they are only measured). A case is a (user, window) with at least one negative in the
/// window and <see cref="SplitOptions.MinPastNegatives"/> negatives at or before its start; its history is everything up to
/// the start, as a nightly job would see it. No interaction inside a validation or test window, nor anything after it,
/// reaches <see cref="Train"/> for that user: training, item embeddings, Swing and the RQ-VAE read only <see cref="Train"/>.
/// <list type="bullet">
/// <item><b>Global</b>: cutoff = last timestamp − TestDays. Test windows start at cutoff, cutoff + W, … while before the last
/// timestamp; validation windows start at cutoff − ValidationDays, then every W, ending no later than the cutoff.
/// Train = interactions at or before the validation start (or the cutoff without validation).</item>
/// <item><b>Per-user</b> (leave-last-window-out): a user's test window starts one tick before their last negative, so that
/// negative and everything in the W days after it are the ground truth. Their validation window starts one tick before the
/// latest earlier negative and ends at the test start at the latest. Train holds each test user's interactions up to their own
/// validation start (or test start without one), plus every interaction of users who have no test case.</item>
/// </list>
/// </summary>
public sealed class TemporalSplit
{
    private static readonly IReadOnlyList<Interaction> NoInteractions = [];
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);
    private readonly Dictionary<string, List<Interaction>> _byUser;
    private readonly Dictionary<string, List<DateTimeOffset>> _itemNegativeTimes;
    private readonly Dictionary<string, DateTimeOffset> _servingAt;

    public SplitOptions Options { get; }
    /// <summary>Global: the test period's start. Per-user: the latest test start (for display).</summary>
    public DateTimeOffset Cutoff { get; }
    public DateTimeOffset Last { get; }
    public IReadOnlyList<Interaction> Train { get; }
    /// <summary>Global: the test windows' starts. Per-user: empty (every user has their own).</summary>
    public IReadOnlyList<DateTimeOffset> WindowStarts { get; }

    /// <summary>Test cases, ordered by window start, then ordinal user id.</summary>
    public IReadOnlyList<EvalCase> Cases { get; }

    /// <summary>Validation cases (same ordering); empty when the protocol has no validation period.</summary>
    public IReadOnlyList<EvalCase> ValidationCases { get; }

    private TemporalSplit(SplitOptions options, DateTimeOffset cutoff, DateTimeOffset last, IReadOnlyList<Interaction> train, IReadOnlyList<DateTimeOffset> starts,
        IReadOnlyList<EvalCase> cases, IReadOnlyList<EvalCase> validation, Dictionary<string, List<Interaction>> byUser,
        Dictionary<string, List<DateTimeOffset>> itemNegativeTimes, Dictionary<string, DateTimeOffset> servingAt)
    {
        Options = options;
        Cutoff = cutoff;
        Last = last;
        Train = train;
        WindowStarts = starts;
        Cases = cases;
        ValidationCases = validation;
        _byUser = byUser;
        _itemNegativeTimes = itemNegativeTimes;
        _servingAt = servingAt;
    }

    /// <summary>
    /// Every interaction is training data and there is nothing to test: what <c>train</c> uses for a production
    /// model, which must learn from everything up to the nightly snapshot.
    /// </summary>
    public static TemporalSplit TrainOnly(InteractionDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (dataset.Interactions.Count == 0) throw new ArgumentException($"dataset '{dataset.Name}' has no interactions to train on", nameof(dataset));
        var last = dataset.Interactions.Max(x => x.Timestamp);
        var byUser = dataset.Interactions.GroupBy(x => x.UserId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        return new TemporalSplit(new SplitOptions(), last, last, dataset.Interactions, [], [], [], byUser, new(StringComparer.Ordinal), new(StringComparer.Ordinal));
    }

    public static TemporalSplit Create(InteractionDataset dataset, SplitOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var all = dataset.Interactions;
        if (all.Count == 0) throw new ArgumentException($"dataset '{dataset.Name}' has no interactions to split", nameof(dataset));

        // The dataset is time-sorted, so each per-user and per-item list is too.
        var byUser = new Dictionary<string, List<Interaction>>(StringComparer.Ordinal);
        var itemNegatives = new Dictionary<string, List<DateTimeOffset>>(StringComparer.Ordinal);
        foreach (var x in all)
        {
            if (!byUser.TryGetValue(x.UserId, out var list)) byUser[x.UserId] = list = [];
            list.Add(x);
            if (!x.IsNegative) continue;
            if (!itemNegatives.TryGetValue(x.ItemId, out var times)) itemNegatives[x.ItemId] = times = [];
            times.Add(x.Timestamp);
        }
        var users = byUser.Keys.Order(StringComparer.Ordinal).ToArray();
        var last = all[^1].Timestamp;
        var window = TimeSpan.FromDays(options.WindowDays);
        return options.Protocol == SplitProtocol.Global
            ? Global(all, byUser, users, itemNegatives, last, window, options)
            : PerUser(all, byUser, users, itemNegatives, last, window, options);
    }

    private static TemporalSplit Global(IReadOnlyList<Interaction> all, Dictionary<string, List<Interaction>> byUser, string[] users,
        Dictionary<string, List<DateTimeOffset>> itemNegatives, DateTimeOffset last, TimeSpan window, SplitOptions options)
    {
        var cutoff = last - TimeSpan.FromDays(options.TestDays);
        var validationStart = cutoff - TimeSpan.FromDays(options.ValidationDays);
        var train = all.Where(x => x.Timestamp <= validationStart).ToList();

        var starts = new List<DateTimeOffset>();
        for (var start = cutoff; start < last; start += window) starts.Add(start);
        var cases = new List<EvalCase>();
        foreach (var at in starts)
            foreach (var user in users)
                if (MakeCase(byUser[user], user, at, at + window, options) is { } c) cases.Add(c);

        var validation = new List<EvalCase>();
        for (var at = validationStart; options.ValidationDays > 0 && at < cutoff; at += window)
        {
            var end = at + window < cutoff ? at + window : cutoff;
            foreach (var user in users)
                if (MakeCase(byUser[user], user, at, end, options) is { } c) validation.Add(c);
        }
        var servingAt = users.ToDictionary(u => u, _ => cutoff, StringComparer.Ordinal);
        return new TemporalSplit(options, cutoff, last, train, starts, cases, validation, byUser, itemNegatives, servingAt);
    }

    private static TemporalSplit PerUser(IReadOnlyList<Interaction> all, Dictionary<string, List<Interaction>> byUser, string[] users,
        Dictionary<string, List<DateTimeOffset>> itemNegatives, DateTimeOffset last, TimeSpan window, SplitOptions options)
    {
        var cases = new List<EvalCase>();
        var validation = new List<EvalCase>();
        var trainUntil = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        var servingAt = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        foreach (var user in users)
        {
            var list = byUser[user];
            var negatives = list.Where(x => x.IsNegative).Select(x => x.Timestamp).ToList();
            if (negatives.Count == 0) continue;
            var testAt = negatives[^1] - Tick;
            if (MakeCase(list, user, testAt, testAt + window, options) is not { } test) continue;
            cases.Add(test);
            servingAt[user] = testAt;
            trainUntil[user] = testAt;
            // The previous window: it starts just before the latest earlier negative and is cut at the test start, so the
            // two never overlap (users who rate in one sitting still get a validation case, with a shorter horizon).
            for (int k = negatives.Count - 2; k >= 0; k--)
            {
                var at = negatives[k] - Tick;
                if (at >= testAt) continue;
                var end = at + window < testAt ? at + window : testAt;
                if (MakeCase(list, user, at, end, options) is { } v)
                {
                    validation.Add(v);
                    trainUntil[user] = at;
                }
                break;
            }
        }
        var train = all.Where(x => !trainUntil.TryGetValue(x.UserId, out var until) || x.Timestamp <= until).ToList();
        cases.Sort(ByStartThenUser);
        validation.Sort(ByStartThenUser);
        var cutoff = cases.Count == 0 ? last : cases.Max(c => c.At);
        foreach (var user in users) servingAt.TryAdd(user, last);
        return new TemporalSplit(options, cutoff, last, train, [], cases, validation, byUser, itemNegatives, servingAt);
    }

    private static int ByStartThenUser(EvalCase a, EvalCase b)
    {
        int c = a.At.CompareTo(b.At);
        return c != 0 ? c : string.CompareOrdinal(a.UserId, b.UserId);
    }

    /// <summary>The case of <paramref name="user"/> for the window (at, end], or null without a future negative or enough past ones.</summary>
    private static EvalCase? MakeCase(List<Interaction> list, string user, DateTimeOffset at, DateTimeOffset end, SplitOptions options)
    {
        int split = CountAtOrBefore(list, at);
        var negatives = new List<string>();
        var positives = new List<string>();
        for (int k = split; k < list.Count && list[k].Timestamp <= end; k++)
        {
            var x = list[k];
            if (x.IsNegative && !negatives.Contains(x.ItemId, StringComparer.Ordinal)) negatives.Add(x.ItemId);
            else if (x.IsPositive && !positives.Contains(x.ItemId, StringComparer.Ordinal)) positives.Add(x.ItemId);
        }
        if (negatives.Count == 0) return null;
        int past = 0;
        for (int k = 0; k < split; k++) if (list[k].IsNegative) past++;
        if (past < options.MinPastNegatives) return null;
        return new EvalCase(user, at, list.GetRange(0, split), negatives, positives, past) { End = end };
    }

    /// <summary>One line describing the split for logs and reports.</summary>
    public string Describe()
    {
        string F(DateTimeOffset t) => t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        string counts = $"{Train.Count} training interactions, {ValidationCases.Count} validation and {Cases.Count} test cases ({Options.WindowDays:0.#}-day windows)";
        return Options.Protocol == SplitProtocol.Global
            ? $"global split: test from {F(Cutoff)} ({Options.TestDays:0.#} days), validation {Options.ValidationDays:0.#} days before it; {counts}"
            : $"per-user split (each user's last window; validation the one before); {counts}";
    }

    /// <summary>All interactions of a user, in time order (empty for an unknown user).</summary>
    public IReadOnlyList<Interaction> UserInteractions(string userId) =>
        _byUser.TryGetValue(userId, out var list) ? list : NoInteractions;

    /// <summary>
    /// Each user's interactions as the serving side would have them at test time: up to the user's (first) test start; users
    /// without a test case up to the global cutoff (global) or in full (per-user). What the demo's nightly job generates from.
    /// </summary>
    public IEnumerable<Interaction> ServingHistory()
    {
        foreach (var (user, list) in _byUser.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var at = _servingAt.TryGetValue(user, out var t) ? t : Last;
            foreach (var x in list) if (x.Timestamp <= at) yield return x;
        }
    }

    /// <summary>Negative feedback events on <paramref name="itemId"/>, by anyone, with timestamp ≤ <paramref name="at"/> (LIF's item count).</summary>
    public int ItemNegativesBefore(string itemId, DateTimeOffset at)
    {
        if (!_itemNegativeTimes.TryGetValue(itemId, out var times)) return 0;
        int lo = 0, hi = times.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (times[mid] <= at) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    private static int CountAtOrBefore(List<Interaction> list, DateTimeOffset at)
    {
        int lo = 0, hi = list.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (list[mid].Timestamp <= at) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
