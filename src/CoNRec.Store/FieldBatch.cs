using StackExchange.Redis;

namespace CoNRec.Store;

/// <summary>
/// Buffers hash-field writes and sends them grouped by bucket: one multi-field HSET per bucket touched in a batch,
/// instead of one command (and one Task, one awaiting state machine) per user. At 1M users into 16,384 buckets a
/// 64k-field batch averages four fields per HSET, so Redis parses a quarter of the commands and the client allocates
/// a fraction of the tasks; that is what took the loader from ~127k to past 200k users/s. Memory is bounded by the
/// batch: its fields, and the values copied into one slab that belongs to the batch until its commands are sent.
/// </summary>
internal sealed class FieldBatch(IDatabase db, Func<int, RedisKey> keyOf, int capacity)
{
    private readonly int[] _buckets = new int[capacity];
    private readonly RedisValue[] _fields = new RedisValue[capacity];
    private readonly int[] _offsets = new int[capacity + 1];
    private byte[] _slab = new byte[capacity * 64];
    private int _count;

    public int Count => _count;
    public bool Full => _count == capacity;

    public void Add(int bucket, string field, ReadOnlySpan<byte> value)
    {
        int at = _offsets[_count];
        if (at + value.Length > _slab.Length) Array.Resize(ref _slab, Math.Max(_slab.Length * 2, at + value.Length));
        value.CopyTo(_slab.AsSpan(at));
        _buckets[_count] = bucket;
        _fields[_count] = field;
        _offsets[++_count] = at + value.Length;
    }

    /// <summary>
    /// Sends the buffered fields, one HSET per bucket, and starts a fresh batch. The returned tasks each yield the
    /// number of fields that were new, so a writer still counts distinct ids when a file repeats one.
    /// </summary>
    public List<Task<RedisResult>> Send()
    {
        var sends = new List<Task<RedisResult>>();
        if (_count == 0) return sends;
        // (bucket, arrival) keys: grouped by bucket, and within a bucket in file order, so a repeated id ends as its last line.
        var order = new long[_count];
        for (int i = 0; i < order.Length; i++) order[i] = ((long)_buckets[i] << 32) | (uint)i;
        Array.Sort(order);
        var slab = _slab; // the commands reference this slab until sent; the next batch gets a new one
        for (int start = 0; start < _count;)
        {
            int bucket = (int)(order[start] >> 32);
            int end = start + 1;
            while (end < _count && (int)(order[end] >> 32) == bucket) end++;
            var args = new object[1 + (2 * (end - start))];
            args[0] = keyOf(bucket);
            for (int i = start, a = 1; i < end; i++)
            {
                int j = (int)(uint)order[i];
                args[a++] = _fields[j];
                args[a++] = (RedisValue)slab.AsMemory(_offsets[j], _offsets[j + 1] - _offsets[j]);
            }
            sends.Add(db.ExecuteAsync("HSET", args));
            start = end;
        }
        Array.Clear(_fields, 0, _count); // drop the id strings; the boxed copies live in the commands
        _slab = new byte[slab.Length];
        _count = 0;
        return sends;
    }
}
