using CoNRec.Core;

namespace CoNRec.Offline.Evaluation;

/// <summary>What kind of row a method is in the report.</summary>
public enum MethodKind
{
    /// <summary>Predicts a set of SIDs (the model, or a baseline producing a set): every metric applies.</summary>
    Generator,

    /// <summary>A configuration of the served negative profile: the filter's metrics apply; hit rates count the whole negative side.</summary>
    Profile,

    /// <summary>A binary rule (block or keep per item): the filter's metrics apply, hit rates do not.</summary>
    Rule,
}

/// <summary>
/// One case's profile as a method builds it: the SIDs it predicts (the first K count for hit rates), and optionally the
/// user's recent negatives (joining the negative side) and recent positives (the guard).
/// </summary>
public sealed record CaseProfile(IReadOnlyList<ulong> Predicted, IReadOnlyList<ulong>? RecentNegatives = null, IReadOnlyList<ulong>? RecentPositives = null)
{
    public static readonly CaseProfile Empty = new([]);
}

/// <summary>
/// A method under evaluation. A generator or profile method is scored by <see cref="CoNRec.Core.ProfileScoring"/> (the
/// serving rule) with <see cref="Rule"/>; a rule method says per case which items it blocks (score 1) and which it
/// keeps (score 0), so its curve is the single point it can operate at.
/// </summary>
public sealed record EvalMethod(string Name, MethodKind Kind)
{
    public Func<EvalCase, CaseProfile>? Profile { get; init; }
    /// <summary>The profile rule's parameters (guard and predicted weights) this method is scored with.</summary>
    public ProfileRule Rule { get; init; } = ProfileRule.Plain;
    /// <summary>For a profile method: how many recent negatives it adds (0 for none).</summary>
    public int RecentNegatives { get; init; }
    public Func<EvalCase, Func<string, bool>>? Blocks { get; init; }
    /// <summary>How the method was configured (e.g. "N=10, guard 0.5, chosen on validation"), for the report.</summary>
    public string? Detail { get; init; }

    public static EvalMethod Generator(string name, Func<EvalCase, IReadOnlyList<ulong>> predict) =>
        new(name, MethodKind.Generator) { Profile = c => new CaseProfile(predict(c)) };

    public static EvalMethod BinaryRule(string name, Func<EvalCase, Func<string, bool>> blocks) =>
        new(name, MethodKind.Rule) { Blocks = blocks };
}
