namespace CoNRec.Core;

/// <summary>
/// The profile's recent parts, built the same way by the nightly generator and by offline evaluation: walk a user's
/// events newest first, map each item to its SID through the catalog (items without one are skipped), keep the first
/// <c>max</c> distinct SIDs.
/// </summary>
public static class RecentSids
{
    /// <summary>Defaults of the profile's recent parts (see README, "The negative profile").</summary>
    public const int DefaultNegatives = 10, DefaultPositives = 10;

    public static ulong[] Take(IEnumerable<string> itemsNewestFirst, IReadOnlyDictionary<string, ulong> catalog, int max)
    {
        ArgumentNullException.ThrowIfNull(itemsNewestFirst);
        ArgumentNullException.ThrowIfNull(catalog);
        if (max is < 0 or > SidSetCodec.MaxCount) throw new ArgumentOutOfRangeException(nameof(max), max, $"max must be in [0, {SidSetCodec.MaxCount}]");
        if (max == 0) return [];
        var sids = new List<ulong>(max);
        foreach (var item in itemsNewestFirst)
        {
            if (!catalog.TryGetValue(item, out var sid) || sids.Contains(sid)) continue;
            sids.Add(sid);
            if (sids.Count == max) break;
        }
        return [.. sids];
    }
}
