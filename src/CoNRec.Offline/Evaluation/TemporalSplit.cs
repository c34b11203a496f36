using CoNRec.Offline.Data;

namespace CoNRec.Offline.Evaluation;

/// <summary>
/// The temporal split of the evaluation protocol. Cutoff = last timestamp − TestDays; train = interactions at or
/// before the cutoff. Rolling windows start at cutoff, cutoff + WindowDays, … while the start is before the last
/// timestamp; each (user, window) with a future negative in (start, start + WindowDays] and enough past negatives is
/// a case. Histories of later windows include test-period interactions before their start: every case sees exactly
/// its own past, as a nightly job would.
/// </summary>
public sealed class TemporalSplit
{
    private static readonly IReadOnlyList<Interaction> NoInteractions = [];
    private readonly Dictionary<string, List<Interaction>> _byUser;
    private readonly Dictionary<string, List<DateTimeOffset>> _itemNegativeTimes;

    public SplitOptions Options { get; }
    public DateTimeOffset Cutoff { get; }
    public DateTimeOffset Last { get; }
    public IReadOnlyList<Interaction> Train { get; }
    public IReadOnlyList<DateTimeOffset> WindowStarts { get; }

    /// <summary>Cases ordered by window start, then ordinal user id.</summary>
    public IReadOnlyList<EvalCase> Cases { get; }

    private TemporalSplit(SplitOptions options, DateTimeOffset cutoff, DateTimeOffset last, IReadOnlyList<Interaction> train,
                          IReadOnlyList<DateTimeOffset> starts, IReadOnlyList<EvalCase> cases,
                          Dictionary<string, List<Interaction>> byUser, Dictionary<string, List<DateTimeOffset>> itemNegativeTimes)
    {
        Options = options;
        Cutoff = cutoff;
        Last = last;
        Train = train;
        WindowStarts = starts;
        Cases = cases;
        _byUser = byUser;
        _itemNegativeTimes = itemNegativeTimes;
    }

    public static TemporalSplit Create(InteractionDataset dataset, SplitOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var all = dataset.Interactions;
        if (all.Count == 0) throw new ArgumentException($"dataset '{dataset.Name}' has no interactions to split", nameof(dataset));

        var last = all[^1].Timestamp;
        var cutoff = last - TimeSpan.FromDays(options.TestDays);
        var window = TimeSpan.FromDays(options.WindowDays);
        var train = all.Where(x => x.Timestamp <= cutoff).ToList();

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

        var starts = new List<DateTimeOffset>();
        for (var start = cutoff; start < last; start += window) starts.Add(start);

        var users = byUser.Keys.Order(StringComparer.Ordinal).ToArray();
        var cases = new List<EvalCase>();
        foreach (var at in starts)
        {
            var end = at + window;
            foreach (var user in users)
            {
                var list = byUser[user];
                int split = CountAtOrBefore(list, at);
                var negatives = new List<string>();
                var positives = new List<string>();
                for (int k = split; k < list.Count && list[k].Timestamp <= end; k++)
                {
                    var x = list[k];
                    if (x.IsNegative && !negatives.Contains(x.ItemId, StringComparer.Ordinal)) negatives.Add(x.ItemId);
                    else if (x.IsPositive && !positives.Contains(x.ItemId, StringComparer.Ordinal)) positives.Add(x.ItemId);
                }
                if (negatives.Count == 0) continue;
                int past = 0;
                for (int k = 0; k < split; k++) if (list[k].IsNegative) past++;
                if (past < options.MinPastNegatives) continue;
                cases.Add(new EvalCase(user, at, list.GetRange(0, split), negatives, positives, past));
            }
        }
        return new TemporalSplit(options, cutoff, last, train, starts, cases, byUser, itemNegatives);
    }

    /// <summary>All interactions of a user, in time order (empty for an unknown user).</summary>
    public IReadOnlyList<Interaction> UserInteractions(string userId) =>
        _byUser.TryGetValue(userId, out var list) ? list : NoInteractions;

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
