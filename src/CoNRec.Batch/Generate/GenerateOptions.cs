using CoNRec.Store;
using CoNRec.Batch.Cli;
using CoNRec.Core;

namespace CoNRec.Batch.Generate;

/// <summary>Settings of one <c>generate</c> run (one shard).</summary>
public sealed record GenerateOptions
{
    public required string Redis { get; init; }
    public RedisTls? RedisTls { get; init; }
    public required string Bundle { get; init; }
    public required string Histories { get; init; }
    public string KeyPrefix { get; init; } = "conrec";
    public int ShardIndex { get; init; }
    public int ShardCount { get; init; } = 1;
    public string Device { get; init; } = "cpu";
    public string? Output { get; init; }
    /// <summary>Explicit generation id; by default derived from the bundle, the input and the shard count.</summary>
    public string? Generation { get; init; }
    /// <summary>Users per model batch (sorted by prompt length within a chunk).</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Users per checkpoint: the most work a crash can cost.</summary>
    public int ChunkSize { get; init; } = 256;
    public int? BeamWidth { get; init; }
    public int? TopK { get; init; }
    public long? MaxBadRecords { get; init; }
    public double? MaxBadFraction { get; init; } = 0.01;
    public string? Pushgateway { get; init; }
    /// <summary>Recent negatives / positives stored in each profile; null takes the bundle's <c>profile</c> setting.</summary>
    public int? RecentNegatives { get; init; }
    public int? RecentPositives { get; init; }
    /// <summary>Snapshot time of the histories (same-day feedback up to it is superseded); null: the generation's creation time.</summary>
    public DateTimeOffset? AsOf { get; init; }
    public bool? Terminal { get; init; }

    /// <summary>Kubernetes Indexed Jobs set JOB_COMPLETION_INDEX; the count comes from JOB_COMPLETION_COUNT (set it in the Job spec).</summary>
    public static (int Index, int Count) ShardFromEnvironment(Func<string, string?> env)
    {
        int Parse(string name, int fallback) =>
            env(name) is { Length: > 0 } v ? int.TryParse(v, out int x) ? x : throw new UsageException($"{name} = '{v}' is not an integer") : fallback;
        return (Parse("JOB_COMPLETION_INDEX", 0), Parse("JOB_COMPLETION_COUNT", 1));
    }

    public void Validate()
    {
        if (ShardCount is < 1 or > 65_536) throw new UsageException($"--shard-count {ShardCount} is out of range [1, 65536]");
        if (ShardIndex < 0 || ShardIndex >= ShardCount) throw new UsageException($"--shard-index {ShardIndex} must be in [0, {ShardCount - 1}]");
        if (BatchSize is < 1 or > 4096) throw new UsageException($"--batch-size {BatchSize} is out of range [1, 4096]");
        if (ChunkSize < BatchSize || ChunkSize > 1_000_000) throw new UsageException($"--chunk-size {ChunkSize} must be in [--batch-size, 1000000]");
        if (RecentNegatives is < 0 or > SidSetCodec.MaxCount) throw new UsageException($"--recent-negatives {RecentNegatives} is out of range [0, {SidSetCodec.MaxCount}]");
        if (RecentPositives is < 0 or > SidSetCodec.MaxCount) throw new UsageException($"--recent-positives {RecentPositives} is out of range [0, {SidSetCodec.MaxCount}]");
        if (Generation is { } g && (g.Length is 0 or > 64 || !g.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new UsageException($"--generation '{g}' must be 1-64 characters of letters, digits, '-', '_' or '.'");
    }
}
