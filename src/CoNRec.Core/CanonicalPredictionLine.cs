namespace CoNRec.Core;

/// <summary>
/// A fast path for the compact form every producer here writes: <c>{"user_id":"u1","sids":[[1,2,3],...],
/// "recent_negatives":[...],"recent_positives":[...]}</c> with no whitespace, ASCII ids without escapes, and plain
/// integers. Parsing is most of a load's CPU and Utf8JsonReader spends ~2 µs on a 500-byte line; this byte scan does
/// the same line in a fraction of that. It accepts only lines whose meaning is beyond doubt and returns false for
/// anything else (whitespace, escapes, unknown or repeated fields, scores, out-of-range codes, any malformed byte), so
/// the full parser decides those, with its exact error messages. Tests compare the two on mutated lines.
/// </summary>
internal static class CanonicalPredictionLine
{
    public static bool TryParse(ReadOnlySpan<byte> json, SidLayout layout, Span<ulong> buffer, out PredictionEntry? entry)
    {
        entry = null;
        string? userId = null;
        ulong[]? sids = null, negatives = null, positives = null;
        float[]? scores = null;
        int i = 0;
        if (!Take(json, ref i, (byte)'{')) return false;
        while (true)
        {
            if (!Take(json, ref i, (byte)'"')) return false;
            int keyStart = i;
            int quote = json[i..].IndexOf((byte)'"');
            if (quote < 0) return false;
            var key = json.Slice(keyStart, quote);
            i += quote + 1;
            if (!Take(json, ref i, (byte)':')) return false;
            if (key.SequenceEqual("user_id"u8))
            {
                if (userId is not null || !TryId(json, ref i, out userId)) return false;
            }
            else if (key.SequenceEqual("scores"u8))
            {
                if (scores is not null || !TryScores(json, ref i, out scores)) return false;
            }
            else
            {
                ref ulong[]? target = ref sids;
                if (key.SequenceEqual("sids"u8)) target = ref sids;
                else if (key.SequenceEqual("recent_negatives"u8)) target = ref negatives;
                else if (key.SequenceEqual("recent_positives"u8)) target = ref positives;
                else return false; // unknown fields: the full parser skips them
                if (target is not null || !TrySidList(json, ref i, layout, buffer, out target)) return false;
            }
            if (i >= json.Length) return false;
            if (json[i] == (byte)'}') { i++; break; }
            if (json[i++] != (byte)',') return false;
        }
        if (i != json.Length || userId is null || sids is null || (scores is not null && scores.Length != sids.Length)) return false;
        entry = new PredictionEntry(userId, sids, scores) { RecentNegatives = negatives ?? [], RecentPositives = positives ?? [] };
        return true;
    }

    private static bool Take(ReadOnlySpan<byte> json, ref int i, byte expected)
    {
        if (i >= json.Length || json[i] != expected) return false;
        i++;
        return true;
    }

    // Printable ASCII only, no quote or backslash: the bytes are the string, no escapes or UTF-8 validation to get wrong.
    private static bool TryId(ReadOnlySpan<byte> json, ref int i, out string? id)
    {
        id = null;
        if (!Take(json, ref i, (byte)'"')) return false;
        int start = i;
        while (i < json.Length && json[i] != (byte)'"')
        {
            byte b = json[i];
            if (b < 0x20 || b > 0x7E || b == (byte)'\\') return false;
            i++;
        }
        int length = i - start;
        if (i >= json.Length || length == 0 || length > JsonlInput.MaxIdBytes) return false;
        id = System.Text.Encoding.ASCII.GetString(json.Slice(start, length));
        i++;
        return true;
    }

    private static bool TrySidList(ReadOnlySpan<byte> json, ref int i, SidLayout layout, Span<ulong> buffer, out ulong[]? sids)
    {
        sids = null;
        if (!Take(json, ref i, (byte)'[')) return false;
        int count = 0;
        Span<uint> codes = stackalloc uint[SidLayout.MaxLevels];
        if (i < json.Length && json[i] == (byte)']') { i++; sids = []; return true; }
        while (true)
        {
            if (count == SidSetCodec.MaxCount || !Take(json, ref i, (byte)'[')) return false;
            for (int l = 0; l < layout.Levels; l++)
            {
                if (l > 0 && !Take(json, ref i, (byte)',')) return false;
                if (!TryUInt(json, ref i, out uint code) || code >= (uint)layout.CodesPerLevel) return false;
                codes[l] = code;
            }
            if (!Take(json, ref i, (byte)']')) return false; // more codes than levels: the full parser says so
            buffer[count++] = layout.Pack(codes[..layout.Levels]);
            if (i >= json.Length) return false;
            if (json[i] == (byte)']') { i++; break; }
            if (json[i++] != (byte)',') return false;
        }
        sids = buffer[..count].ToArray();
        return true;
    }

    private static bool TryScores(ReadOnlySpan<byte> json, ref int i, out float[]? scores)
    {
        scores = null;
        if (!Take(json, ref i, (byte)'[')) return false;
        Span<float> buffer = stackalloc float[SidSetCodec.MaxCount];
        int count = 0;
        if (i < json.Length && json[i] == (byte)']') { i++; scores = []; return true; }
        while (true)
        {
            if (count == SidSetCodec.MaxCount || !TryNumber(json, ref i, out float value)) return false;
            buffer[count++] = value;
            if (i >= json.Length) return false;
            if (json[i] == (byte)']') { i++; break; }
            if (json[i++] != (byte)',') return false;
        }
        scores = buffer[..count].ToArray();
        return true;
    }

    // The JSON number grammar -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, checked here; the value comes from the same
    // correctly rounded parse Utf8JsonReader.TryGetSingle uses, so both paths agree to the bit. Non-finite: full parser.
    private static bool TryNumber(ReadOnlySpan<byte> json, ref int i, out float value)
    {
        value = 0;
        int start = i;
        if (i < json.Length && json[i] == (byte)'-') i++;
        int intStart = i;
        while (i < json.Length && (uint)(json[i] - '0') <= 9) i++;
        if (i == intStart || (i - intStart > 1 && json[intStart] == (byte)'0')) return false;
        if (i < json.Length && json[i] == (byte)'.')
        {
            int fracStart = ++i;
            while (i < json.Length && (uint)(json[i] - '0') <= 9) i++;
            if (i == fracStart) return false;
        }
        if (i < json.Length && (json[i] is (byte)'e' or (byte)'E'))
        {
            i++;
            if (i < json.Length && (json[i] is (byte)'+' or (byte)'-')) i++;
            int expStart = i;
            while (i < json.Length && (uint)(json[i] - '0') <= 9) i++;
            if (i == expStart) return false;
        }
        return System.Buffers.Text.Utf8Parser.TryParse(json[start..i], out value, out int consumed) && consumed == i - start && float.IsFinite(value);
    }

    // JSON integers: no sign, no leading zero, no fraction or exponent; at most uint.MaxValue.
    private static bool TryUInt(ReadOnlySpan<byte> json, ref int i, out uint value)
    {
        value = 0;
        int start = i;
        ulong v = 0;
        while (i < json.Length && (uint)(json[i] - '0') <= 9)
        {
            v = (v * 10) + (uint)(json[i] - '0');
            if (v > uint.MaxValue) return false;
            i++;
        }
        int digits = i - start;
        if (digits == 0 || (digits > 1 && json[start] == (byte)'0')) return false;
        if (i < json.Length && (json[i] is (byte)'.' or (byte)'e' or (byte)'E')) return false;
        value = (uint)v;
        return true;
    }
}
