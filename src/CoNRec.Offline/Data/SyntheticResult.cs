namespace CoNRec.Offline.Data;

/// <summary>
/// A synthetic dataset plus the latent user tastes that generated it, keyed by user id, and (attributes model) each
/// item's attributes (empty lists in the categories model).
/// </summary>
public sealed record SyntheticResult(InteractionDataset Dataset, IReadOnlyDictionary<string, SyntheticUser> Users)
{
    public IReadOnlyDictionary<string, IReadOnlyList<int>> ItemAttributes { get; init; } = new Dictionary<string, IReadOnlyList<int>>();
}
