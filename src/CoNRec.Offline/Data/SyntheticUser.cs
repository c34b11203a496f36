namespace CoNRec.Offline.Data;

/// <summary>
/// A dislike of the attributes model: items with <paramref name="Attribute"/>, anywhere (<paramref name="Scope"/> null)
/// or only under the category path prefix <paramref name="Scope"/> (e.g. bulky items among shoes, not bulky sofas).
/// </summary>
public sealed record AttributeAversion(int Attribute, string? Scope);

/// <summary>
/// The latent tastes <see cref="SyntheticGenerator"/> drew for one user (ground truth for tests and oracle baselines).
/// Areas are category path prefixes: a leaf ("c2/c2.1/c2.1.0") or a sub-category ("c2/c2.1"). In the attributes model a
/// user's dislikes are <see cref="Aversions"/> (plus leaf areas); in the categories model only areas.
/// </summary>
public sealed record SyntheticUser(string UserId, IReadOnlyList<string> NegativeAreas, IReadOnlyList<string> PositiveAreas)
{
    public IReadOnlyList<AttributeAversion> Aversions { get; init; } = [];

    public bool Dislikes(string categoryPath) => NegativeAreas.Any(a => Covers(a, categoryPath));

    /// <summary>Whether the user dislikes an item of this leaf path with these attributes (either kind of dislike).</summary>
    public bool Dislikes(string categoryPath, IReadOnlyList<int> attributes) =>
        Dislikes(categoryPath) || Aversions.Any(a => attributes.Contains(a.Attribute) && (a.Scope is null || Covers(a.Scope, categoryPath)));

    public bool Likes(string categoryPath) => PositiveAreas.Any(a => Covers(a, categoryPath));

    private static bool Covers(string area, string path) =>
        path.StartsWith(area, StringComparison.Ordinal) && (path.Length == area.Length || path[area.Length] == '/');
}
