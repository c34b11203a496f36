namespace CoNRec.Offline.Data;

/// <summary>
/// The latent tastes <see cref="SyntheticGenerator"/> drew for one user (ground truth for tests and oracle baselines).
/// Areas are category path prefixes: a leaf ("c2/c2.1/c2.1.0") or a sub-category ("c2/c2.1").
/// </summary>
public sealed record SyntheticUser(string UserId, IReadOnlyList<string> NegativeAreas, IReadOnlyList<string> PositiveAreas)
{
    public bool Dislikes(string categoryPath) => NegativeAreas.Any(a => Covers(a, categoryPath));

    public bool Likes(string categoryPath) => PositiveAreas.Any(a => Covers(a, categoryPath));

    private static bool Covers(string area, string path) =>
        path.StartsWith(area, StringComparison.Ordinal) && (path.Length == area.Length || path[area.Length] == '/');
}
