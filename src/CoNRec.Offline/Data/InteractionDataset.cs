namespace CoNRec.Offline.Data;

/// <summary>
/// Items plus interactions in time order (ties broken by user, then item, so every consumer sees one order).
/// Every interaction names a known item.
/// </summary>
public sealed class InteractionDataset
{
    public string Name { get; }
    public IReadOnlyList<ItemFeatures> Items { get; }
    public IReadOnlyList<Interaction> Interactions { get; }
    public IReadOnlyDictionary<string, ItemFeatures> ItemsById { get; }

    private InteractionDataset(string name, IReadOnlyList<ItemFeatures> items, IReadOnlyList<Interaction> interactions, Dictionary<string, ItemFeatures> byId)
    {
        Name = name;
        Items = items;
        Interactions = interactions;
        ItemsById = byId;
    }

    public static InteractionDataset Create(string name, IEnumerable<ItemFeatures> items, IEnumerable<Interaction> interactions)
    {
        var itemList = items.ToList();
        var byId = new Dictionary<string, ItemFeatures>(StringComparer.Ordinal);
        foreach (var item in itemList)
        {
            if (string.IsNullOrEmpty(item.ItemId)) throw new ArgumentException("an item has an empty item_id");
            if (!byId.TryAdd(item.ItemId, item)) throw new ArgumentException($"item '{item.ItemId}' appears twice");
        }
        var sorted = interactions.ToList();
        foreach (var x in sorted)
        {
            if (string.IsNullOrEmpty(x.UserId)) throw new ArgumentException($"an interaction with item '{x.ItemId}' has an empty user_id");
            if (!byId.ContainsKey(x.ItemId)) throw new ArgumentException($"interaction of user '{x.UserId}' names unknown item '{x.ItemId}'");
        }
        sorted.Sort(static (a, b) =>
        {
            int c = a.Timestamp.CompareTo(b.Timestamp);
            if (c == 0) c = string.CompareOrdinal(a.UserId, b.UserId);
            if (c == 0) c = string.CompareOrdinal(a.ItemId, b.ItemId);
            return c;
        });
        return new InteractionDataset(name, itemList, sorted, byId);
    }
}
