namespace CoNRec.Offline.Data;

/// <summary>A synthetic dataset plus the latent user tastes that generated it, keyed by user id.</summary>
public sealed record SyntheticResult(InteractionDataset Dataset, IReadOnlyDictionary<string, SyntheticUser> Users);
