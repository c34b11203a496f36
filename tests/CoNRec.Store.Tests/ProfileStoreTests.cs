using CoNRec.Core;
using CoNRec.Store;
using CoNRec.Testing;
using StackExchange.Redis;
using Xunit;

namespace CoNRec.Store.Tests;

public sealed class RedisProfileStoreTests(RedisFixture fixture) : ProfileStoreTests(fixture.Connect()), IClassFixture<RedisFixture>;

public sealed class ClusterProfileStoreTests(RedisClusterFixture fixture) : ProfileStoreTests(fixture.Connect()), IClassFixture<RedisClusterFixture>;

public sealed class GarnetProfileStoreTests(GarnetFixture fixture) : ProfileStoreTests(fixture.Connect()), IClassFixture<GarnetFixture>;

/// <summary>Profiles and the same-day feedback overlay, on real redis-server and on embedded Garnet.</summary>
public abstract class ProfileStoreTests : IDisposable
{
    private readonly ConnectionMultiplexer _mux;
    private readonly IDatabase _db;
    private readonly StoreOptions _options;
    private readonly RedisKeys _keys;
    private readonly Codebook _codebook;
    private readonly SidLayout _layout;

    protected ProfileStoreTests(ConnectionMultiplexer mux)
    {
        _mux = mux;
        _db = mux.GetDatabase();
        // A generous read budget: these tests check what is read, not the hot path's 25 ms deadline (a busy CI box can miss it).
        _options = new StoreOptions { KeyPrefix = "p" + Guid.NewGuid().ToString("N")[..8], FeedbackMaxEntries = 4, ReadTimeout = TimeSpan.FromSeconds(5) };
        _keys = new RedisKeys(_options.KeyPrefix);
        var values = new float[3 * 16 * 4];
        var rng = new Random(3);
        for (int i = 0; i < values.Length; i++) values[i] = (float)rng.NextDouble();
        _codebook = Codebook.Create(3, 16, 4, values);
        _layout = _codebook.Layout;
    }

    public void Dispose() => _mux.Dispose();

    private ulong Sid(uint a, uint b, uint c) => _layout.Pack([a, b, c]);

    private ResilientReader Reader() => new(_db, _options);

    [Fact]
    public async Task A_profile_and_its_overlay_are_read_in_one_call_and_share_a_hash_slot()
    {
        var writer = await GenerationWriter.BeginAsync(_db, _keys, _options, _codebook, expectedUsers: 3, expectedItems: 0, source: "test");
        ulong[] predicted = [Sid(1, 2, 3), Sid(4, 5, 6)], negatives = [Sid(7, 8, 9)], positives = [Sid(0, 0, 1), Sid(0, 0, 2)];
        await writer.AddProfileAsync("alice", predicted, negatives, positives);
        await writer.AddProfileAsync("bob", new[] { Sid(1, 1, 1) }, default, default);
        await writer.AddProfileAsync("nobody", default, default, positives); // nothing on the negative side: not stored
        var meta = await writer.CompleteAsync();
        Assert.Equal(2, meta.Users);
        Assert.Equal(RedisKeys.CurrentUserLayout, meta.UserKeyLayout);

        var feedback = new FeedbackStore(_db, _keys, _options);
        var now = DateTimeOffset.UtcNow;
        await feedback.RecordAsync("alice", FeedbackKind.Negative, "i-9", Sid(9, 9, 9), meta.CodebookHash, now);

        // Same slot for every generation's bucket of a user and for their overlay (StackExchange.Redis's own CRC16, not ours).
        Assert.Equal(_mux.HashSlot(_keys.UserKey(meta, "alice")), _mux.HashSlot(_keys.Feedback("alice")));
        var other = meta with { Id = "another-generation", UserBuckets = RedisKeys.UserGroups * 8 };
        Assert.Equal(_mux.HashSlot(_keys.UserKey(other, "alice")), _mux.HashSlot(_keys.Feedback("alice")));

        var (ok, profile, overlay) = await Reader().ReadProfileAsync(_keys.UserKey(meta, "alice"), "alice", _keys.Feedback("alice"),
            meta.EffectiveAsOf.AddMinutes(-1), _options.FeedbackMaxEntries, CancellationToken.None);
        Assert.True(ok);
        var decoded = new ulong[SidSetCodec.MaxProfileCount];
        Assert.Null(SidSetCodec.TryDecodeProfile((byte[])profile!, _layout, decoded, out var counts));
        Assert.Equal(new ProfileCounts(2, 1, 2), counts);
        Assert.Equal([.. predicted, .. negatives, .. positives], decoded[..counts.Total]);
        var entries = new FeedbackEntry[8];
        int n = FeedbackStore.Parse(overlay, FeedbackStore.CodebookTag(meta.CodebookHash), _layout, entries);
        Assert.Equal(1, n);
        Assert.Equal(new FeedbackEntry(FeedbackKind.Negative, RedisKeys.Hash64("i-9"), Sid(9, 9, 9)), entries[0]);

        // bob has no overlay; an unknown user has neither
        var bob = await Reader().ReadProfileAsync(_keys.UserKey(meta, "bob"), "bob", _keys.Feedback("bob"), meta.EffectiveAsOf, 4, CancellationToken.None);
        Assert.True(bob.Ok && !bob.Profile.IsNull && bob.Overlay.Length == 0);
        var nobody = await Reader().ReadProfileAsync(_keys.UserKey(meta, "nobody"), "nobody", _keys.Feedback("nobody"), meta.EffectiveAsOf, 4, CancellationToken.None);
        Assert.True(nobody.Ok && nobody.Profile.IsNull);
    }

    [Fact]
    public async Task Feedback_is_idempotent_bounded_expiring_and_superseded_by_a_newer_generation()
    {
        var feedback = new FeedbackStore(_db, _keys, _options);
        string hash = _codebook.ContentHash;
        var t0 = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        await feedback.RecordAsync("u", FeedbackKind.Negative, "i1", Sid(1, 1, 1), hash, t0);
        await feedback.RecordAsync("u", FeedbackKind.Negative, "i1", Sid(1, 1, 1), hash, t0); // a retry
        Assert.Equal(1, await _db.SortedSetLengthAsync(_keys.Feedback("u")));
        await feedback.RecordAsync("u", FeedbackKind.Positive, "i1", Sid(1, 1, 1), hash, t0); // another kind is another event
        Assert.Equal(2, await _db.SortedSetLengthAsync(_keys.Feedback("u")));

        for (int k = 2; k <= 7; k++) await feedback.RecordAsync("u", FeedbackKind.Negative, $"i{k}", Sid((uint)k, 0, 0), hash, t0.AddMinutes(k));
        Assert.Equal(_options.FeedbackMaxEntries, await _db.SortedSetLengthAsync(_keys.Feedback("u"))); // only the most recent 4 stay
        var ttl = await _db.KeyTimeToLiveAsync(_keys.Feedback("u"));
        Assert.True(ttl is { } t && t > TimeSpan.Zero && t <= _options.FeedbackTtl, $"overlay should expire, ttl={ttl}");

        // Reading "after as_of" drops what a generation built at that moment already holds.
        var (ok, _, overlay) = await Reader().ReadProfileAsync(_keys.UserBucket("none", 0), "u", _keys.Feedback("u"), t0.AddMinutes(5), 10, CancellationToken.None);
        Assert.True(ok);
        var entries = new FeedbackEntry[10];
        int n = FeedbackStore.Parse(overlay, FeedbackStore.CodebookTag(hash), _layout, entries);
        Assert.Equal([Sid(7, 0, 0), Sid(6, 0, 0)], entries[..n].Select(e => e.Sid)); // newest first, strictly after as_of

        // An entry resolved with another codebook is never reinterpreted.
        Assert.Equal(0, FeedbackStore.Parse(overlay, FeedbackStore.CodebookTag(hash) ^ 1, _layout, entries));
    }

    [Fact]
    public void Malformed_overlay_members_are_skipped_and_the_newest_copy_of_an_event_wins()
    {
        uint tag = 0xABCDEF01;
        RedisValue Member(FeedbackKind kind, string item, ulong sid, uint t = 0xABCDEF01) => FeedbackStore.Member(kind, RedisKeys.Hash64(item), sid, t);
        RedisValue[] members =
        [
            Member(FeedbackKind.Negative, "a", Sid(1, 1, 1)),
            Member(FeedbackKind.Negative, "a", Sid(2, 2, 2)),            // older copy of the same event with another SID
            (byte[])[1, 2, 3],                                           // too short
            Member((FeedbackKind)9, "b", Sid(1, 1, 1)),                  // unknown kind
            Member(FeedbackKind.Positive, "c", ulong.MaxValue),          // not a SID of this layout
            Member(FeedbackKind.Positive, "d", Sid(3, 3, 3), t: 7),      // another codebook
            Member(FeedbackKind.Positive, "e", Sid(4, 4, 4)),
            RedisValue.Null,
        ];
        var entries = new FeedbackEntry[8];
        int n = FeedbackStore.Parse(members, tag, _layout, entries);
        Assert.Equal([(FeedbackKind.Negative, Sid(1, 1, 1)), (FeedbackKind.Positive, Sid(4, 4, 4))], entries[..n].Select(e => (e.Kind, e.Sid)));
        Assert.Equal(1, FeedbackStore.Parse(members, tag, _layout, entries.AsSpan(0, 1))); // bounded by the destination
    }

    [Fact]
    public void Legacy_generations_keep_their_untagged_user_buckets()
    {
        var legacy = new GenerationMeta
        {
            Id = "old", Status = GenerationStatus.Published, CodebookHash = _codebook.ContentHash, Levels = 3, CodesPerLevel = 16, Dimension = 4,
            UserBuckets = 7, ItemBuckets = 1,
        };
        Assert.Equal(1, legacy.UserKeyLayout);
        Assert.Equal((RedisKey)$"{_options.KeyPrefix}:g:old:u:{RedisKeys.Bucket("alice", 7)}", _keys.UserKey(legacy, "alice"));
        // a meta hash without the layout field parses as layout 1; a wrong bucket count for layout 2 is refused
        var parsed = GenerationMeta.FromHash(legacy.ToHash(), out _)!;
        Assert.Equal(1, parsed.UserKeyLayout);
        var bad = legacy with { UserKeyLayout = 2 };
        Assert.Null(GenerationMeta.FromHash(bad.ToHash(), out var problem));
        Assert.Contains("multiple of 1024", problem);
    }
}
