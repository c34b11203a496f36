namespace CoNRec.Model.Prompting;

/// <summary>One feedback event. <paramref name="Kind"/> is the negative reason (optional) or the positive type (click, favorite, purchase, rating...).</summary>
public sealed record HistoryEvent(string ItemId, DateTimeOffset Timestamp, string? Kind);

/// <summary>A user's history as the generator reads it (histories JSONL/Parquet): negatives and positives, any order.</summary>
public sealed record UserHistory(string UserId, IReadOnlyList<HistoryEvent> Negatives, IReadOnlyList<HistoryEvent> Positives);
