using CoNRec.Core;
using CoNRec.Model.Prompting;
using Parquet;
using Parquet.Schema;

namespace CoNRec.Batch.Histories;

/// <summary>
/// Reads user histories from Parquet, one row group at a time (never the whole file). Two layouts are accepted:
/// <list type="number">
/// <item><description>
/// Nested, one row per user: <c>user_id: string</c>,
/// <c>negatives: list&lt;struct&lt;item_id: string, ts, reason: string?&gt;&gt;</c>,
/// <c>positives: list&lt;struct&lt;item_id: string, ts, type: string?&gt;&gt;</c>. Either list column may be absent
/// (empty for everyone); a null list is empty.
/// </description></item>
/// <item><description>
/// Flat ("long"), one row per event: <c>user_id</c>, <c>item_id</c>, <c>ts</c>, <c>feedback</c> ∈ {"negative", "positive"},
/// optional <c>kind</c> (the negative reason or positive type). Consecutive rows with the same <c>user_id</c> form one
/// history, also across row groups, so the file must be grouped by user (a user split into two runs yields two records).
/// </description></item>
/// </list>
/// <c>ts</c> is an integer or floating column of Unix seconds, or a Parquet timestamp (UTC when not adjusted).
/// The layout is chosen by the columns present: <c>negatives</c>/<c>positives</c> mean nested, otherwise flat; a missing
/// required column is fatal and named. Errors use the 1-based row index, e.g.
/// <c>histories.parquet: row 1042: 'negatives[0].item_id' is null</c>; a flat history's error names the row at fault.
/// </summary>
public static class ParquetHistories
{
    private static readonly ParquetOptions Options = new() { TreatByteArrayAsString = true };

    public static IEnumerable<HistoryRecord> ReadFile(string path, CancellationToken cancellationToken = default)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(stream, path, ownsStream: true, cancellationToken);
    }

    /// <summary>Reads from a seekable stream; <paramref name="source"/> names it in messages.</summary>
    public static IEnumerable<HistoryRecord> Read(Stream stream, string source, bool ownsStream = false, CancellationToken cancellationToken = default)
    {
        ParquetReader? reader = null;
        try
        {
            reader = Open(stream, source, cancellationToken);
            var layout = Layout.Detect(reader.Schema, source);
            long rowBase = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                List<HistoryRecord> records;
                long rows = 0;
                try
                {
                    using var group = reader.OpenRowGroupReader(g);
                    rows = group.RowCount;
                    records = layout.ReadGroupAsync(group, rowBase, cancellationToken).GetAwaiter().GetResult();
                }
                catch (Exception e) when (e is not (OperationCanceledException or HistoryFileException))
                {
                    // A corrupt page cannot be pinned on one row, so the file is untrustworthy from here on.
                    throw new HistoryFileException(source, $"row group {g} (from row {rowBase + 1}, {rows} rows) is unreadable: {e.Message}", e);
                }
                foreach (var record in records) yield return record;
                rowBase += rows;
            }
            if (layout.Finish() is { } last) yield return last;
        }
        finally
        {
            reader?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            if (ownsStream) stream.Dispose();
        }
    }

    private static ParquetReader Open(Stream stream, string source, CancellationToken cancellationToken)
    {
        try { return ParquetReader.CreateAsync(stream, Options, leaveStreamOpen: true, cancellationToken).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever the library throws for a bad magic or a cut-off footer (IOException, thrift decoding errors...).
            throw new HistoryFileException(source, $"not a readable Parquet file (bad magic, truncated or corrupt footer): {e.Message}", e);
        }
    }

    private abstract class Layout(string source)
    {
        protected string Source { get; } = source;

        public abstract Task<List<HistoryRecord>> ReadGroupAsync(ParquetRowGroupReader group, long rowBase, CancellationToken ct);

        /// <summary>The history still being assembled when the file ends (flat layout only).</summary>
        public virtual HistoryRecord? Finish() => null;

        public static Layout Detect(ParquetSchema schema, string source)
        {
            Field? Top(string name) => schema.Fields.FirstOrDefault(f => f.Name == name);
            var userId = Top("user_id");
            var negatives = Top("negatives");
            var positives = Top("positives");
            if (negatives is not null || positives is not null)
            {
                var user = Leaf(userId, "user_id", source, LeafKind.String);
                return new NestedLayout(source, user, ListOf(negatives, "negatives", "reason", source), ListOf(positives, "positives", "type", source));
            }
            if (Top("item_id") is null && Top("feedback") is null)
                throw new HistoryFileException(source, "schema matches neither histories layout: missing column 'negatives' or 'positives' " +
                    $"(nested layout) and 'item_id', 'ts', 'feedback' (flat layout); columns: {string.Join(", ", schema.Fields.Select(f => f.Name))}");
            return new FlatLayout(source,
                Leaf(userId, "user_id", source, LeafKind.String), Leaf(Top("item_id"), "item_id", source, LeafKind.String),
                Leaf(Top("ts"), "ts", source, LeafKind.Time), Leaf(Top("feedback"), "feedback", source, LeafKind.String),
                Top("kind") is { } kind ? Leaf(kind, "kind", source, LeafKind.String) : null);
        }

        private static ListSpec? ListOf(Field? field, string name, string kindName, string source)
        {
            if (field is null) return null;
            if (field is not ListField { Item: StructField item } list)
                throw new HistoryFileException(source, $"column '{name}' must be a list of structs (item_id, ts, {kindName}); it is {field.SchemaType}");
            Field? Member(string n) => item.Fields.FirstOrDefault(f => f.Name == n);
            return new ListSpec(name, kindName, list, item,
                Leaf(Member("item_id"), $"{name}.item_id", source, LeafKind.String),
                Leaf(Member("ts"), $"{name}.ts", source, LeafKind.Time),
                Member(kindName) is { } kind ? Leaf(kind, $"{name}.{kindName}", source, LeafKind.String) : null);
        }

        private static DataField Leaf(Field? field, string name, string source, LeafKind kind)
        {
            if (field is null) throw new HistoryFileException(source, $"missing column '{name}'");
            if (field is not DataField data) throw new HistoryFileException(source, $"column '{name}' must be a plain column; it is {field.SchemaType}");
            var type = data.ClrType;
            bool ok = kind == LeafKind.String
                ? type == typeof(string) || type == typeof(ReadOnlyMemory<char>)
                : TimeTypes.Contains(type);
            if (!ok || data.IsArray)
                throw new HistoryFileException(source, kind == LeafKind.String
                    ? $"column '{name}' must be a string column; it is {type.Name}"
                    : $"column '{name}' must hold Unix seconds (integer or floating) or a timestamp; it is {type.Name}");
            return data;
        }
    }

    private enum LeafKind { String, Time }

    private static readonly HashSet<Type> TimeTypes =
        [typeof(long), typeof(int), typeof(short), typeof(double), typeof(float), typeof(DateTime), typeof(DateTimeOffset)];

    private sealed record ListSpec(string Name, string KindName, ListField List, StructField Item, DataField ItemId, DataField Ts, DataField? Kind);

    /// <summary>
    /// One leaf column chunk: definition/repetition levels per entry plus the non-null values, packed. Walking it with a
    /// cursor rebuilds rows, list elements and nulls without the library's object materialisation.
    /// </summary>
    private sealed class Column
    {
        private readonly int[]? _def, _rep;
        private int _next; // next packed value

        private Column(DataField field, int count, int[]? def, int[]? rep, Array values)
        {
            Field = field;
            Count = count;
            _def = def;
            _rep = rep;
            Values = values;
        }

        public DataField Field { get; }
        public int Count { get; }
        private Array Values { get; }

        public int Def(int i) => _def is null ? Field.MaxDefinitionLevel : _def[i];
        public int Rep(int i) => _rep is null ? 0 : _rep[i];

        /// <summary>Whether entry <paramref name="i"/> holds a value (consumes it; call once per entry, in order).</summary>
        public bool TakeValue(int i, out object value)
        {
            if (Def(i) < Field.MaxDefinitionLevel) { value = null!; return false; }
            value = Values.GetValue(_next++)!;
            return true;
        }

        public string? TakeString(int i) => TakeValue(i, out var v) ? v switch { ReadOnlyMemory<char> m => m.ToString(), string s => s, _ => v.ToString() } : null;

        public static async Task<Column> ReadAsync(ParquetRowGroupReader group, DataField field, CancellationToken ct)
        {
            var chunk = group.GetMetadata(field)?.MetaData ?? throw new InvalidDataException($"no column chunk for '{field.Path}'");
            if (chunk.NumValues > Array.MaxLength) throw new InvalidDataException($"column chunk '{field.Path}' has {chunk.NumValues} values");
            int n = (int)chunk.NumValues;
            int[]? def = field.MaxDefinitionLevel > 0 ? new int[n] : null;
            int[]? rep = field.MaxRepetitionLevel > 0 ? new int[n] : null;
            var type = field.ClrType;
            Array values =
                type == typeof(ReadOnlyMemory<char>) || type == typeof(string) ? await Raw<ReadOnlyMemory<char>>(group, field, n, def, rep, ct)
                : type == typeof(long) ? await Raw<long>(group, field, n, def, rep, ct)
                : type == typeof(int) ? await Raw<int>(group, field, n, def, rep, ct)
                : type == typeof(short) ? await Raw<short>(group, field, n, def, rep, ct)
                : type == typeof(double) ? await Raw<double>(group, field, n, def, rep, ct)
                : type == typeof(float) ? await Raw<float>(group, field, n, def, rep, ct)
                : type == typeof(DateTime) ? await Raw<DateTime>(group, field, n, def, rep, ct)
                : type == typeof(DateTimeOffset) ? await Raw<DateTimeOffset>(group, field, n, def, rep, ct)
                : throw new InvalidDataException($"unsupported type {type.Name} for '{field.Path}'");
            return new Column(field, n, def, rep, values);
        }

        private static async Task<T[]> Raw<T>(ParquetRowGroupReader group, DataField field, int n, int[]? def, int[]? rep, CancellationToken ct)
            where T : struct
        {
            var values = new T[n];
            await group.ReadRawAsync(field, values.AsMemory(), def?.AsMemory(), rep?.AsMemory(), ct);
            return values;
        }
    }

    private static (DateTimeOffset, string?) ToTimestamp(object value, string field) => value switch
    {
        long s => HistoryReader.FromUnixSeconds(s, field),
        int s => HistoryReader.FromUnixSeconds(s, field),
        short s => HistoryReader.FromUnixSeconds(s, field),
        double s => HistoryReader.FromUnixSeconds(s, field),
        float s => HistoryReader.FromUnixSeconds(s, field),
        // An unadjusted (local) timestamp carries no zone; histories are UTC by contract.
        DateTime t => Checked(new DateTimeOffset(t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : DateTime.SpecifyKind(t, DateTimeKind.Utc)), field),
        DateTimeOffset t => Checked(t.ToUniversalTime(), field),
        _ => (default, $"'{field}' has unsupported type {value.GetType().Name}"),
    };

    private static (DateTimeOffset, string?) Checked(DateTimeOffset ts, string field) => (ts, HistoryReader.CheckRange(ts, field));

    private sealed class NestedLayout(string source, DataField userId, ListSpec? negatives, ListSpec? positives) : Layout(source)
    {
        public override async Task<List<HistoryRecord>> ReadGroupAsync(ParquetRowGroupReader group, long rowBase, CancellationToken ct)
        {
            int rows = checked((int)group.RowCount);
            var users = await Column.ReadAsync(group, userId, ct);
            if (users.Count != rows) throw new InvalidDataException($"'user_id' has {users.Count} values for {rows} rows");
            var neg = negatives is null ? null : await ListRows.ReadAsync(group, negatives, rows, ct);
            var pos = positives is null ? null : await ListRows.ReadAsync(group, positives, rows, ct);
            var records = new List<HistoryRecord>(rows);
            for (int r = 0; r < rows; r++)
            {
                long row = rowBase + r + 1;
                var user = users.TakeString(r);
                string? error = user is null ? "'user_id' is null" : HistoryReader.CheckId(user, "user_id");
                var (negEvents, negError) = neg?.Next() ?? ([], null);
                var (posEvents, posError) = pos?.Next() ?? ([], null);
                error ??= negError ?? posError;
                records.Add(error is null
                    ? HistoryRecord.Ok(row, new UserHistory(user!, negEvents, posEvents))
                    : RowError(Source, row, error));
            }
            return records;
        }
    }

    /// <summary>Walks the three leaf columns of one list&lt;struct&gt; in step, yielding each row's events or its first error.</summary>
    private sealed class ListRows
    {
        private readonly ListSpec _spec;
        private readonly Column _item, _ts;
        private readonly Column? _kind;
        private int _i; // next level entry

        private ListRows(ListSpec spec, Column item, Column ts, Column? kind)
        {
            _spec = spec;
            _item = item;
            _ts = ts;
            _kind = kind;
        }

        public static async Task<ListRows> ReadAsync(ParquetRowGroupReader group, ListSpec spec, int rows, CancellationToken ct)
        {
            var item = await Column.ReadAsync(group, spec.ItemId, ct);
            var ts = await Column.ReadAsync(group, spec.Ts, ct);
            var kind = spec.Kind is null ? null : await Column.ReadAsync(group, spec.Kind, ct);
            if (ts.Count != item.Count || (kind is not null && kind.Count != item.Count))
                throw new InvalidDataException($"the leaf columns of '{spec.Name}' disagree on the number of entries");
            return new ListRows(spec, item, ts, kind);
        }

        public (IReadOnlyList<HistoryEvent> Events, string? Error) Next()
        {
            if (_i >= _item.Count) throw new InvalidDataException($"'{_spec.Name}' has fewer entries than rows");
            var events = new List<HistoryEvent>();
            string? error = null;
            int k = 0; // element index within the row
            do
            {
                int i = _i++;
                int def = _item.Def(i);
                if (def < _spec.List.MaxDefinitionLevel) { _ts.TakeValue(i, out _); _kind?.TakeValue(i, out _); continue; } // null or empty list
                var at = $"{_spec.Name}[{k++}]";
                var itemId = _item.TakeString(i);
                bool hasTs = _ts.TakeValue(i, out var tsValue);
                var kind = _kind?.TakeString(i);
                if (error is not null) continue; // keep the cursors moving; the row is already rejected
                if (k > HistoryReader.MaxEventsPerList) { error = HistoryReader.TooManyEvents(_spec.Name); continue; }
                if (def < _spec.Item.MaxDefinitionLevel) { error = $"'{at}' is null"; continue; }
                if (itemId is null) { error = $"'{at}.item_id' is null"; continue; }
                if ((error = HistoryReader.CheckId(itemId, $"{at}.item_id")) is not null) continue;
                if (!hasTs) { error = $"'{at}.ts' is null"; continue; }
                (var ts, error) = ToTimestamp(tsValue, $"{at}.ts");
                if (error is not null) continue;
                if (kind is not null && (error = HistoryReader.CheckKind(kind, $"{at}.{_spec.KindName}")) is not null) continue;
                events.Add(new HistoryEvent(itemId, ts, kind));
            }
            while (_i < _item.Count && _item.Rep(_i) > 0);
            return (events, error);
        }
    }

    private sealed class FlatLayout(string source, DataField userId, DataField itemId, DataField ts, DataField feedback, DataField? kind) : Layout(source)
    {
        private string? _user;
        private long _firstRow;
        private List<HistoryEvent> _negatives = [], _positives = [];
        private HistoryRecord? _error;

        public override async Task<List<HistoryRecord>> ReadGroupAsync(ParquetRowGroupReader group, long rowBase, CancellationToken ct)
        {
            int rows = checked((int)group.RowCount);
            var users = await Column.ReadAsync(group, userId, ct);
            var items = await Column.ReadAsync(group, itemId, ct);
            var times = await Column.ReadAsync(group, ts, ct);
            var feedbacks = await Column.ReadAsync(group, feedback, ct);
            var kinds = kind is null ? null : await Column.ReadAsync(group, kind, ct);
            foreach (var c in new[] { users, items, times, feedbacks, kinds })
                if (c is not null && c.Count != rows) throw new InvalidDataException($"'{c.Field.Name}' has {c.Count} values for {rows} rows");

            var records = new List<HistoryRecord>();
            for (int r = 0; r < rows; r++)
            {
                long row = rowBase + r + 1;
                var user = users.TakeString(r);
                var item = items.TakeString(r);
                bool hasTs = times.TakeValue(r, out var tsValue);
                var fb = feedbacks.TakeString(r);
                var k = kinds?.TakeString(r);

                // A row without a valid user cannot be attached to any history: reject just that row.
                if ((user is null ? "'user_id' is null" : HistoryReader.CheckId(user, "user_id")) is { } userError)
                {
                    records.Add(RowError(Source, row, userError));
                    continue;
                }
                if (user != _user)
                {
                    if (Finish() is { } done) records.Add(done);
                    (_user, _firstRow, _negatives, _positives, _error) = (user, row, [], [], null);
                }
                if (_error is not null) continue;
                if (RowEvent(item, hasTs, tsValue, fb, k, out var negative) is { } error) { _error = RowError(Source, row, error); continue; }
                var list = negative.Item1 ? _negatives : _positives;
                if (list.Count == HistoryReader.MaxEventsPerList)
                    _error = RowError(Source, row, HistoryReader.TooManyEvents(negative.Item1 ? "negatives" : "positives") + $" for user '{user}'");
                else list.Add(negative.Item2);
            }
            return records;
        }

        private static string? RowEvent(string? item, bool hasTs, object tsValue, string? fb, string? k, out (bool, HistoryEvent) result)
        {
            result = default;
            if (item is null) return "'item_id' is null";
            if (HistoryReader.CheckId(item, "item_id") is { } idError) return idError;
            if (!hasTs) return "'ts' is null";
            var (ts, tsError) = ToTimestamp(tsValue, "ts");
            if (tsError is not null) return tsError;
            bool negative;
            if (string.Equals(fb, "negative", StringComparison.OrdinalIgnoreCase)) negative = true;
            else if (string.Equals(fb, "positive", StringComparison.OrdinalIgnoreCase)) negative = false;
            else return fb is null ? "'feedback' is null" : $"'feedback' = \"{Truncate(fb)}\" must be \"negative\" or \"positive\"";
            if (k is not null && HistoryReader.CheckKind(k, "kind") is { } kindError) return kindError;
            result = (negative, new HistoryEvent(item, ts, k));
            return null;
        }

        public override HistoryRecord? Finish()
        {
            if (_user is null) return null;
            var record = _error ?? HistoryRecord.Ok(_firstRow, new UserHistory(_user, _negatives, _positives));
            _user = null;
            return record;
        }

        private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";
    }

    private static HistoryRecord RowError(string source, long row, string detail) => HistoryRecord.Bad(new InputFormatException(source, row, detail), isRow: true);
}
