using System.Diagnostics.CodeAnalysis;
using CoNRec.Core;
using CoNRec.Model.Prompting;

namespace CoNRec.Batch.Histories;

/// <summary>
/// One record of a histories file: either a parsed history or the reason its line (JSONL) or row (Parquet) was rejected.
/// Bad records are values, not exceptions, so one bad user never stops the other millions.
/// </summary>
public sealed class HistoryRecord
{
    private HistoryRecord(long line, UserHistory? history, InputFormatException? error, string? message)
    {
        Line = line;
        History = history;
        Error = error;
        Message = message;
    }

    /// <summary>1-based line (JSONL) or row index (Parquet; the user's first row in the flat layout).</summary>
    public long Line { get; }

    public UserHistory? History { get; }

    /// <summary>For a bad record: its line (JSONL) or row index (Parquet) is <see cref="InputFormatException.Line"/>.</summary>
    public InputFormatException? Error { get; }

    /// <summary>
    /// For a bad record, the text to log: <c>file:17: detail</c> for JSONL, <c>file: row 1042: detail</c> for Parquet
    /// (the exception's own message cannot say "row"; its format belongs to Core).
    /// </summary>
    public string? Message { get; }

    [MemberNotNullWhen(true, nameof(History))]
    [MemberNotNullWhen(false, nameof(Error), nameof(Message))]
    public bool IsValid => History is not null;

    public static HistoryRecord Ok(long line, UserHistory history) => new(line, history ?? throw new ArgumentNullException(nameof(history)), null, null);

    /// <param name="isRow">True when <see cref="InputFormatException.Line"/> is a Parquet row index rather than a line.</param>
    public static HistoryRecord Bad(InputFormatException error, bool isRow = false)
    {
        ArgumentNullException.ThrowIfNull(error);
        return new(error.Line, null, error, isRow ? $"{error.FileName}: row {error.Line}: {error.Detail}" : error.Message);
    }

    public override string ToString() => IsValid ? $"{Line}: {History.UserId}" : Message!;
}

/// <summary>
/// The file as a whole cannot be read (unknown extension, not Parquet, truncated footer, corrupt column chunk, schema of
/// neither layout). Unlike a bad record this is fatal: nothing after it can be trusted.
/// </summary>
public sealed class HistoryFileException(string fileName, string detail, Exception? inner = null)
    : IOException($"{fileName}: {detail}", inner)
{
    public string FileName { get; } = fileName;
    public string Detail { get; } = detail;
}
