namespace CoNRec.Offline.Evaluation;

/// <summary>
/// Parameters of Swing on negative feedback (paper Eq. 5). Defaults follow the paper where it gives a value
/// (Id(x) = 1 iff x &gt; 5) and the usual Swing settings otherwise (α1 = α2 = 1, θ = 0.5).
/// </summary>
public sealed record SwingOptions
{
    /// <summary>α1: smoothing added to a user's negative-item count in the user weight 1/(|I(u)| + α1)^θ.</summary>
    public double Alpha1 { get; init; } = 1;

    /// <summary>α2: smoothing in the pair overlap factor |I(u)∩I(v)| / (|I(u)∩I(v)| + α2).</summary>
    public double Alpha2 { get; init; } = 1;

    /// <summary>θ: exponent of the user weight; larger values discount heavy dislikers more.</summary>
    public double Theta { get; init; } = 0.5;

    /// <summary>
    /// The Id(x) threshold: a pair (i, j) scores only when its co-user count x = |U(i)∩U(j)| is strictly greater
    /// than this (the paper's Id(x) = 1 iff x &gt; 5).
    /// </summary>
    public int MinCoUsers { get; init; } = 5;

    /// <summary>Neighbours kept per item (highest scores).</summary>
    public int TopK { get; init; } = 20;

    /// <summary>
    /// Cost cap: an item with more dislikers than this uses only the first this-many users by ordinal user id for
    /// its pair sums and co-user counts (the work per item is quadratic in its users). N_j stays the true |U(j)|.
    /// </summary>
    public int MaxUsersPerItem { get; init; } = 1000;

    internal void Validate()
    {
        if (!double.IsFinite(Alpha1) || Alpha1 < 0) throw new ArgumentOutOfRangeException(nameof(Alpha1), Alpha1, "Alpha1 must be finite and ≥ 0");
        if (!double.IsFinite(Alpha2) || Alpha2 < 0) throw new ArgumentOutOfRangeException(nameof(Alpha2), Alpha2, "Alpha2 must be finite and ≥ 0");
        if (!double.IsFinite(Theta) || Theta < 0) throw new ArgumentOutOfRangeException(nameof(Theta), Theta, "Theta must be finite and ≥ 0");
        if (MinCoUsers < 0) throw new ArgumentOutOfRangeException(nameof(MinCoUsers), MinCoUsers, "MinCoUsers must be ≥ 0");
        if (TopK < 1) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "TopK must be ≥ 1");
        if (MaxUsersPerItem < 2) throw new ArgumentOutOfRangeException(nameof(MaxUsersPerItem), MaxUsersPerItem, "MaxUsersPerItem must be ≥ 2 (a pair needs two users)");
    }
}
