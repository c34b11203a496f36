using BenchmarkDotNet.Attributes;
using CoNRec.Core;

namespace CoNRec.Benchmarks;

/// <summary>Decoding one user's stored predictions (20 SIDs, L=3, K=8192: 102 bytes) into a reused buffer.</summary>
[MemoryDiagnoser]
public class SidCodecBenchmark
{
    private readonly SidLayout _layout = new(3, 8192);
    private byte[] _value = null!;
    private ulong[] _buffer = null!;

    [GlobalSetup]
    public void Setup()
    {
        var sids = BenchData.RandomSids(_layout, 20, new Random(44));
        _value = SidSetCodec.Encode(_layout, sids);
        _buffer = new ulong[SidSetCodec.MaxCount];
        if (SidSetCodec.TryDecode(_value, _layout, _buffer, out int n) is not null || n != 20 || !_buffer.AsSpan(0, n).SequenceEqual(sids))
            throw new InvalidOperationException("round trip failed");
    }

    [Benchmark(Description = "TryDecode 20 SIDs (L=3, K=8192)")]
    public int TryDecode()
    {
        SidSetCodec.TryDecode(_value, _layout, _buffer, out int count);
        return count;
    }
}
