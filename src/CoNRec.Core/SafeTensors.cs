using System.Buffers.Binary;
using System.Text.Json;

namespace CoNRec.Core;

public enum SafeTensorDType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool }

public sealed record SafeTensorInfo(string Name, SafeTensorDType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public long ByteLength => End - Begin;
}

/// <summary>Raised for any malformed safetensors input; the message names the file, the field and the limit.</summary>
public sealed class SafeTensorsFormatException(string message) : FormatException(message);

/// <summary>
/// Reader for the Hugging Face safetensors format: an 8-byte little-endian header length, a JSON header
/// mapping names to {dtype, shape, data_offsets}, then the raw little-endian data. Written here rather than
/// borrowed so every bound is checked before any byte is trusted (headers come from user-supplied files).
/// </summary>
public sealed class SafeTensorsFile
{
    /// <summary>Hugging Face's own reader refuses headers above 100 MB; so do we.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly ReadOnlyMemory<byte> _data;

    public string Source { get; }
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafeTensorsFile(string source, ReadOnlyMemory<byte> data, Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Source = source;
        _data = data;
        Tensors = tensors;
        Metadata = metadata;
    }

    public static SafeTensorsFile Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new SafeTensorsFormatException($"{path}: file not found");
        if (info.Length > int.MaxValue) throw new SafeTensorsFormatException($"{path}: {info.Length} bytes exceeds the in-memory limit of {int.MaxValue} bytes");
        return Parse(File.ReadAllBytes(path), path);
    }

    public static SafeTensorsFile Parse(ReadOnlyMemory<byte> bytes, string source)
    {
        var span = bytes.Span;
        if (span.Length < 8) throw new SafeTensorsFormatException($"{source}: {span.Length} bytes is shorter than the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(span);
        if (headerLength > MaxHeaderBytes)
            throw new SafeTensorsFormatException($"{source}: header length {headerLength} exceeds the limit of {MaxHeaderBytes} bytes");
        if ((long)headerLength > span.Length - 8)
            throw new SafeTensorsFormatException($"{source}: header length {headerLength} runs past the end of the file ({span.Length} bytes): truncated?");
        int dataStart = 8 + (int)headerLength;
        long dataLength = span.Length - dataStart;

        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes.Slice(8, (int)headerLength), new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new SafeTensorsFormatException($"{source}: header is not valid JSON ({e.Message})"); }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException($"{source}: header must be a JSON object, found {doc.RootElement.ValueKind}");

        var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__")
            {
                if (prop.Value.ValueKind != JsonValueKind.Object) throw new SafeTensorsFormatException($"{source}: '__metadata__' must be an object of strings");
                foreach (var m in prop.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String) throw new SafeTensorsFormatException($"{source}: '__metadata__.{m.Name}' must be a string");
                    metadata[m.Name] = m.Value.GetString()!;
                }
                continue;
            }
            if (tensors.ContainsKey(prop.Name)) throw new SafeTensorsFormatException($"{source}: tensor '{prop.Name}' appears twice in the header");
            tensors[prop.Name] = ParseTensor(source, prop.Name, prop.Value, dataLength);
        }

        // Data regions must not overlap: overlapping tensors would alias each other's weights.
        var ordered = tensors.Values.Where(t => t.ByteLength > 0).OrderBy(t => t.Begin).ToList();
        for (int i = 1; i < ordered.Count; i++)
        {
            if (ordered[i].Begin < ordered[i - 1].End)
                throw new SafeTensorsFormatException($"{source}: tensors '{ordered[i - 1].Name}' and '{ordered[i].Name}' overlap in the data section");
        }
        return new SafeTensorsFile(source, bytes[dataStart..], tensors, metadata);
    }

    private static SafeTensorInfo ParseTensor(string source, string name, JsonElement e, long dataLength)
    {
        string where = $"{source}: tensor '{name}'";
        if (e.ValueKind != JsonValueKind.Object) throw new SafeTensorsFormatException($"{where} must be an object");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new SafeTensorsFormatException($"{where}: missing string field 'dtype'");
        var dtype = ParseDType(dt.GetString()!) ?? throw new SafeTensorsFormatException($"{where}: unsupported dtype '{dt.GetString()}'");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new SafeTensorsFormatException($"{where}: missing array field 'shape'");
        // Check the rank before allocating: a hostile header could otherwise ask for a huge shape array.
        if (sh.GetArrayLength() > 8) throw new SafeTensorsFormatException($"{where}: rank {sh.GetArrayLength()} exceeds the limit of 8");
        var shape = new long[sh.GetArrayLength()];
        int i = 0;
        foreach (var dim in sh.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var v) || v < 0)
                throw new SafeTensorsFormatException($"{where}: 'shape[{i}]' must be a non-negative integer");
            shape[i++] = v;
        }
        long elements;
        try { elements = shape.Aggregate(1L, (a, b) => checked(a * b)); }
        catch (OverflowException) { throw new SafeTensorsFormatException($"{where}: shape [{string.Join(",", shape)}] overflows 64-bit element count"); }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new SafeTensorsFormatException($"{where}: 'data_offsets' must be an array [begin, end]");
        var b = off[0];
        var en = off[1];
        if (b.ValueKind != JsonValueKind.Number || en.ValueKind != JsonValueKind.Number ||
            !b.TryGetInt64(out var begin) || !en.TryGetInt64(out var end) || begin < 0 || end < begin)
            throw new SafeTensorsFormatException($"{where}: 'data_offsets' must satisfy 0 <= begin <= end");
        if (end > dataLength)
            throw new SafeTensorsFormatException($"{where}: 'data_offsets' end {end} exceeds the data section of {dataLength} bytes: truncated?");
        long expected = elements > long.MaxValue / 8 ? long.MaxValue : elements * DTypeSize(dtype);
        if (end - begin != expected)
            throw new SafeTensorsFormatException($"{where}: holds {end - begin} bytes but shape [{string.Join(",", shape)}] of {dtype} needs {expected}");
        return new SafeTensorInfo(name, dtype, shape, begin, end);
    }

    public ReadOnlySpan<byte> GetBytes(SafeTensorInfo tensor) => _data.Span.Slice((int)tensor.Begin, (int)tensor.ByteLength);

    public SafeTensorInfo Require(string name) =>
        Tensors.TryGetValue(name, out var t) ? t : throw new SafeTensorsFormatException($"{Source}: required tensor '{name}' is missing");

    /// <summary>Converts a floating-point tensor (f32, f16, bf16) to f32.</summary>
    public float[] ReadAsFloat32(SafeTensorInfo tensor)
    {
        var bytes = GetBytes(tensor);
        var result = new float[tensor.ElementCount];
        switch (tensor.DType)
        {
            case SafeTensorDType.F32:
                for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
                break;
            case SafeTensorDType.F16:
                for (int i = 0; i < result.Length; i++) result[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(i * 2)..]);
                break;
            case SafeTensorDType.BF16:
                for (int i = 0; i < result.Length; i++)
                    result[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]) << 16);
                break;
            default:
                throw new SafeTensorsFormatException($"{Source}: tensor '{tensor.Name}' has dtype {tensor.DType}; expected F32, F16 or BF16");
        }
        return result;
    }

    public static int DTypeSize(SafeTensorDType d) => d switch
    {
        SafeTensorDType.F64 or SafeTensorDType.I64 => 8,
        SafeTensorDType.F32 or SafeTensorDType.I32 => 4,
        SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.I16 => 2,
        _ => 1,
    };

    public static SafeTensorDType? ParseDType(string s) => s switch
    {
        "F32" => SafeTensorDType.F32,
        "F16" => SafeTensorDType.F16,
        "BF16" => SafeTensorDType.BF16,
        "F64" => SafeTensorDType.F64,
        "I64" => SafeTensorDType.I64,
        "I32" => SafeTensorDType.I32,
        "I16" => SafeTensorDType.I16,
        "I8" => SafeTensorDType.I8,
        "U8" => SafeTensorDType.U8,
        "BOOL" => SafeTensorDType.Bool,
        _ => null,
    };

    public static string DTypeName(SafeTensorDType d) => d == SafeTensorDType.Bool ? "BOOL" : d.ToString().ToUpperInvariant();
}

/// <summary>Writes safetensors files (tests, fixtures, RQ-VAE export). Header is space-padded to 8 bytes, as HF does.</summary>
public static class SafeTensorsWriter
{
    public sealed record Entry(string Name, SafeTensorDType DType, long[] Shape, byte[] Data);

    public static Entry F32(string name, long[] shape, ReadOnlySpan<float> values)
    {
        var data = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
        return new Entry(name, SafeTensorDType.F32, shape, data);
    }

    public static Entry F16(string name, long[] shape, ReadOnlySpan<float> values)
    {
        var data = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(i * 2), (Half)values[i]);
        return new Entry(name, SafeTensorDType.F16, shape, data);
    }

    /// <summary>bf16 by round-to-nearest-even, matching torch's conversion.</summary>
    public static Entry BF16(string name, long[] shape, ReadOnlySpan<float> values)
    {
        var data = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
        {
            uint bits = (uint)BitConverter.SingleToInt32Bits(values[i]);
            // NaN must stay NaN (keep the sign, set the quiet bit); rounding its payload could carry into Inf or 0.
            uint rounded = float.IsNaN(values[i]) ? (bits >> 16) | 0x0040 : (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16;
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(i * 2), (ushort)rounded);
        }
        return new Entry(name, SafeTensorDType.BF16, shape, data);
    }

    public static byte[] ToBytes(IEnumerable<Entry> entries, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var ms = new MemoryStream();
        Write(ms, entries, metadata);
        return ms.ToArray();
    }

    public static void Write(Stream stream, IEnumerable<Entry> entries, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = entries.ToList();
        using var headerStream = new MemoryStream();
        using (var w = new Utf8JsonWriter(headerStream))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in list)
            {
                long expected = e.Shape.Aggregate(1L, (a, b) => a * b) * SafeTensorsFile.DTypeSize(e.DType);
                if (expected != e.Data.Length) throw new ArgumentException($"tensor '{e.Name}': {e.Data.Length} bytes for shape [{string.Join(",", e.Shape)}] ({expected} expected)");
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", SafeTensorsFile.DTypeName(e.DType));
                w.WriteStartArray("shape");
                foreach (var s in e.Shape) w.WriteNumberValue(s);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + e.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += e.Data.Length;
            }
            w.WriteEndObject();
        }
        var header = headerStream.ToArray().ToList();
        while (header.Count % 8 != 0) header.Add((byte)' ');
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Count);
        stream.Write(len);
        stream.Write(header.ToArray());
        foreach (var e in list) stream.Write(e.Data);
    }
}
