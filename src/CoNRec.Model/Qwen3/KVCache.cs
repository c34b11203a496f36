using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Qwen3;

/// <summary>
/// Per-layer key/value buffers [N, kvHeads, capacity, headDim], preallocated for prompt + generated tokens so a
/// decode step writes in place instead of concatenating. <see cref="Length"/> is tracked on the host: every step
/// adds a known number of positions, so no device value is ever read back.
/// <para>
/// For beam search, <see cref="ShareAcrossBeams"/> freezes the prompt part per user and gives each beam its own small
/// suffix buffer: the B beams of a user then read one copy of the prompt's keys/values instead of B copies, and
/// reordering beams moves only the few generated positions. Copying the whole cache per step (HF's reorder) was
/// what made batched decoding memory-bound.
/// </para>
/// </summary>
public sealed class KVCache : IDisposable
{
    private Tensor[] _keys;
    private Tensor[] _values;
    private Tensor[]? _suffixKeys, _suffixValues;

    public int Capacity { get; private set; }
    public int Length { get; private set; }
    public long Rows => _keys[0].shape[0];

    /// <summary>Beams per prompt row once shared; 0 before.</summary>
    public int Beams { get; private set; }
    public bool IsShared => Beams > 0;
    /// <summary>Prompt positions (shared); only meaningful when <see cref="IsShared"/>.</summary>
    public int PrefixLength { get; private set; }
    public int SuffixLength => Length - PrefixLength;

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
        if (IsShared) throw new InvalidOperationException("a shared cache takes AppendSuffix");
        long t = k.shape[2];
        if (Length + t > Capacity) throw new InvalidOperationException($"KV cache capacity {Capacity} exceeded ({Length} + {t})");
        _keys[layer].narrow(2, Length, t).copy_(k);
        _values[layer].narrow(2, Length, t).copy_(v);
        return (_keys[layer].narrow(2, 0, Length + t), _values[layer].narrow(2, 0, Length + t));
    }

    /// <summary>
    /// Freezes the first <see cref="Length"/> positions as a per-row prefix and allocates suffix buffers for
    /// <paramref name="beams"/> beams per row and <paramref name="suffixCapacity"/> generated positions.
    /// </summary>
    public void ShareAcrossBeams(int beams, int suffixCapacity)
    {
        if (IsShared) throw new InvalidOperationException("the cache is already shared");
        PrefixLength = Length;
        Beams = beams;
        Capacity = Length + suffixCapacity;
        int layers = _keys.Length;
        _suffixKeys = new Tensor[layers];
        _suffixValues = new Tensor[layers];
        for (int l = 0; l < layers; l++)
        {
            // Trim the prompt buffers to the prompt: the generated positions live in the suffix from now on.
            var k = _keys[l].narrow(2, 0, Length).contiguous().DetachFromDisposeScope();
            var v = _values[l].narrow(2, 0, Length).contiguous().DetachFromDisposeScope();
            _keys[l].Dispose(); _values[l].Dispose();
            _keys[l] = k; _values[l] = v;
            long[] shape = [k.shape[0] * beams, k.shape[1], Math.Max(1, suffixCapacity), k.shape[3]];
            _suffixKeys[l] = torch.zeros(shape, k.dtype, k.device).DetachFromDisposeScope();
            _suffixValues[l] = torch.zeros(shape, k.dtype, k.device).DetachFromDisposeScope();
        }
    }

    /// <summary>Shared mode: the prompt's k/v [N, kv, P, D] and this beam row's generated k/v [N·B, kv, s, D] including this step's.</summary>
    public (Tensor PrefixKeys, Tensor PrefixValues, Tensor SuffixKeys, Tensor SuffixValues) AppendSuffix(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        int s = SuffixLength;
        if (Length + t > Capacity) throw new InvalidOperationException($"KV cache capacity {Capacity} exceeded ({Length} + {t})");
        _suffixKeys![layer].narrow(2, s, t).copy_(k);
        _suffixValues![layer].narrow(2, s, t).copy_(v);
        return (_keys[layer], _values[layer], _suffixKeys[layer].narrow(2, 0, s + t), _suffixValues[layer].narrow(2, 0, s + t));
    }

    /// <summary>Called once per forward, after every layer appended.</summary>
    public void Advance(long t) => Length += (int)t;

    /// <summary>
    /// Replaces every row r by row <paramref name="rows"/>[r]: beam reordering. Shared: only the beams' suffixes
    /// move (rows index beams), the prompt prefix stays where it is.
    /// </summary>
    public void Select(Tensor rows)
    {
        if (IsShared)
        {
            for (int l = 0; l < _keys.Length; l++)
            {
                var k = _suffixKeys![l].index_select(0, rows).DetachFromDisposeScope();
                var v = _suffixValues![l].index_select(0, rows).DetachFromDisposeScope();
                _suffixKeys[l].Dispose(); _suffixValues![l].Dispose();
                _suffixKeys[l] = k; _suffixValues[l] = v;
            }
            return;
        }
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
        foreach (var t in _suffixKeys ?? []) t.Dispose();
        foreach (var t in _suffixValues ?? []) t.Dispose();
    }
}
