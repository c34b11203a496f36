using System.Buffers.Binary;
using CoNRec.Core;
using StackExchange.Redis;

namespace CoNRec.Store;

/// <summary>Kind of same-day feedback. Numbers match conrec.v1.FeedbackKind.</summary>
public enum FeedbackKind : byte { Negative = 1, Positive = 2 }

/// <summary>One overlay entry: what the user did, to which item (by a 64-bit hash of its id), and the SID it had then.</summary>
public readonly record struct FeedbackEntry(FeedbackKind Kind, ulong ItemHash, ulong Sid);

/// <summary>
/// The per-user same-day feedback overlay: a sorted set at <see cref="RedisKeys.Feedback"/> (in the hash slot of the
/// user's profile buckets), scored by the feedback time in Unix milliseconds. A member is
/// [version][kind][FNV-1a-64 of item_id][packed SID][first 4 bytes of the codebook hash], 22 bytes:
/// <list type="bullet">
/// <item>Idempotent per (user, item, kind): recording the same event again re-adds the same member (ZADD only moves its time).</item>
/// <item>Bounded: the same transaction trims the set to the most recent <see cref="StoreOptions.FeedbackMaxEntries"/>, and sets its TTL.</item>
/// <item>Superseded by a newer generation: readers ask only for entries newer than the active generation's
/// <see cref="GenerationMeta.AsOf"/> (its profiles already hold the older ones).</item>
/// <item>Never reinterpreted: an entry resolved with another codebook (its tag differs) is skipped (invariant 2).</item>
/// </list>
/// </summary>
public sealed class FeedbackStore(IDatabase db, RedisKeys keys, StoreOptions options)
{
    public const byte MemberVersion = 1;
    public const int MemberBytes = 22;

    /// <summary>Records one feedback event; throws the store's exception when Redis is unavailable (the caller retries).</summary>
    public async Task RecordAsync(string userId, FeedbackKind kind, string itemId, ulong sid, string codebookHash, DateTimeOffset time)
    {
        var key = keys.Feedback(userId);
        var member = Member(kind, RedisKeys.Hash64(itemId), sid, CodebookTag(codebookHash));
        var tx = db.CreateTransaction();
        _ = tx.SortedSetAddAsync(key, member, time.ToUnixTimeMilliseconds());
        _ = tx.SortedSetRemoveRangeByRankAsync(key, 0, -(options.FeedbackMaxEntries + 1));
        _ = tx.KeyExpireAsync(key, options.FeedbackTtl);
        if (!await tx.ExecuteAsync()) throw new RedisException("feedback transaction was not applied");
    }

    public static byte[] Member(FeedbackKind kind, ulong itemHash, ulong sid, uint codebookTag)
    {
        var m = new byte[MemberBytes];
        m[0] = MemberVersion;
        m[1] = (byte)kind;
        BinaryPrimitives.WriteUInt64LittleEndian(m.AsSpan(2), itemHash);
        BinaryPrimitives.WriteUInt64LittleEndian(m.AsSpan(10), sid);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(18), codebookTag);
        return m;
    }

    /// <summary>The first 4 bytes of a codebook's SHA-256 (hex), as stored in each member.</summary>
    public static uint CodebookTag(string codebookHash) =>
        codebookHash.Length >= 8 ? uint.Parse(codebookHash.AsSpan(0, 8), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture)
            : throw new ArgumentException($"codebook hash '{codebookHash}' is shorter than 8 hex digits", nameof(codebookHash));

    /// <summary>
    /// Parses overlay members (newest first) into <paramref name="destination"/>, keeping those made with the codebook
    /// <paramref name="codebookTag"/>, valid for <paramref name="layout"/>, and first for their (kind, item). Never throws on bad bytes.
    /// </summary>
    public static int Parse(ReadOnlySpan<RedisValue> members, uint codebookTag, SidLayout layout, Span<FeedbackEntry> destination)
    {
        int n = 0;
        foreach (var value in members)
        {
            if (n == destination.Length) break;
            if (value.IsNull) continue;
            byte[]? bytes = (byte[]?)value;
            if (bytes is not { Length: MemberBytes } || bytes[0] != MemberVersion) continue;
            var kind = (FeedbackKind)bytes[1];
            if (kind is not (FeedbackKind.Negative or FeedbackKind.Positive)) continue;
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(18)) != codebookTag) continue;
            ulong sid = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(10));
            if (!layout.IsValidPacked(sid)) continue;
            ulong item = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(2));
            bool seen = false;
            for (int k = 0; k < n && !seen; k++) seen = destination[k].Kind == kind && destination[k].ItemHash == item;
            if (seen) continue; // an older copy of the same event resolved to another SID: the newest wins
            destination[n++] = new FeedbackEntry(kind, item, sid);
        }
        return n;
    }
}
