using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Qwen3;

/// <summary>
/// Per-layer key/value buffers [N, kvHeads, capacity, headDim], preallocated for prompt + generated tokens so a
/// decode step writes in place instead of concatenating. <see cref="Length"/> is tracked on the host: every step
/// adds a known number of positions, so no device value is ever read back.
/// </summary>
public sealed class KVCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    public int Capacity { get; }
    public int Length { get; private set; }
    public long Rows => _keys[0].shape[0];

    public KVCache(Qwen3Config config, long rows, int capacity, ScalarType dtype, Device device)
    {
        Capacity = capacity;
        _keys = new Tensor[config.NumHiddenLayers];
        _values = new Tensor[config.NumHiddenLayers];
        for (int l = 0; l < _keys.Length; l++)
        {
            _keys[l] = torch.zeros([rows, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device);
            _values[l] = torch.zeros([rows, config.NumKeyValueHeads, capacity, config.HeadDim], dtype, device);
        }
    }

    /// <summary>Writes this step's k/v [N, kvHeads, T, D] after the cached positions; returns views over all of them.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        if (Length + t > Capacity) throw new InvalidOperationException($"KV cache capacity {Capacity} exceeded ({Length} + {t})");
        _keys[layer].narrow(2, Length, t).copy_(k);
        _values[layer].narrow(2, Length, t).copy_(v);
        return (_keys[layer].narrow(2, 0, Length + t), _values[layer].narrow(2, 0, Length + t));
    }

    /// <summary>Called once per forward, after every layer appended.</summary>
    public void Advance(long t) => Length += (int)t;

    /// <summary>Replaces every row r by row <paramref name="rows"/>[r]: prompt → beams expansion and per-step beam reordering.</summary>
    public void Select(Tensor rows)
    {
        for (int l = 0; l < _keys.Length; l++)
        {
            var k = _keys[l].index_select(0, rows);
            var v = _values[l].index_select(0, rows);
            _keys[l].Dispose();
            _values[l].Dispose();
            _keys[l] = k.DetachFromDisposeScope();
            _values[l] = v.DetachFromDisposeScope();
        }
    }

    public void Dispose()
    {
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}
