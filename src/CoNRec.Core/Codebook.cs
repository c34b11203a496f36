using System.Buffers;
using System.Numerics.Tensors;
using System.Security.Cryptography;

namespace CoNRec.Core;

/// <summary>
/// The RQ-VAE codebooks [L, K, d] in f32. A SID's embedding is the sum of its codewords over levels
/// (the RQ-VAE's quantised vector), normalised so that a dot product is a cosine.
/// </summary>
public sealed class Codebook
{
    public const string TensorName = "codebooks";
    public const int MaxDimension = 65_536;

    private readonly float[] _data;

    public SidLayout Layout { get; }
    public int Levels => Layout.Levels;
    public int CodesPerLevel => Layout.CodesPerLevel;
    public int Dimension { get; }

    /// <summary>SHA-256 (hex) of the serialized file this codebook was read from: generations name their codebook by it.</summary>
    public string ContentHash { get; }

    /// <summary>The file bytes the codebook came from; stored verbatim so every reader parses the same thing.</summary>
    public ReadOnlyMemory<byte> SourceBytes { get; }

    /// <summary>The RQ-VAE encoder stored in the same file (<c>encoder.*</c> tensors), or null when the file has none.</summary>
    public CodebookEncoder? Encoder { get; }

    private Codebook(SidLayout layout, int dimension, float[] data, string hash, ReadOnlyMemory<byte> source, CodebookEncoder? encoder)
    {
        Layout = layout;
        Dimension = dimension;
        _data = data;
        ContentHash = hash;
        SourceBytes = source;
        Encoder = encoder;
    }

    public static Codebook Load(string path)
    {
        if (!File.Exists(path)) throw new SafeTensorsFormatException($"{path}: codebook file not found");
        return FromBytes(File.ReadAllBytes(path), path);
    }

    public static string HashOf(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>
    /// Parses and validates: tensor present, rank 3, float dtype, sane sizes, all values finite; plus the optional
    /// <c>encoder.*</c> tensors (see <see cref="CodebookEncoder"/>).
    /// </summary>
    public static Codebook FromBytes(ReadOnlyMemory<byte> bytes, string source)
    {
        var file = SafeTensorsFile.Parse(bytes, source);
        var t = file.Require(TensorName);
        if (t.DType is not (SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16))
            throw new SafeTensorsFormatException($"{source}: tensor '{TensorName}' has dtype {t.DType}; expected F32, F16 or BF16");
        if (t.Shape.Length != 3)
            throw new SafeTensorsFormatException($"{source}: tensor '{TensorName}' has shape [{string.Join(",", t.Shape)}]; expected [L, K, d]");
        long l = t.Shape[0], k = t.Shape[1], d = t.Shape[2];
        if (l < 1 || l > SidLayout.MaxLevels) throw new SafeTensorsFormatException($"{source}: L = {l} levels; must be in [1, {SidLayout.MaxLevels}]");
        if (k < 1 || k > SidLayout.MaxCodesPerLevel) throw new SafeTensorsFormatException($"{source}: K = {k} codes per level; must be in [1, {SidLayout.MaxCodesPerLevel}]");
        if (d < 1 || d > MaxDimension) throw new SafeTensorsFormatException($"{source}: d = {d}; must be in [1, {MaxDimension}]");
        SidLayout layout;
        try { layout = new SidLayout((int)l, (int)k); }
        catch (ArgumentOutOfRangeException e) { throw new SafeTensorsFormatException($"{source}: {e.Message}"); }
        var data = file.ReadAsFloat32(t);
        for (int i = 0; i < data.Length; i++)
        {
            if (!float.IsFinite(data[i]))
            {
                long level = i / (k * d), code = i / d % k, dim = i % d;
                throw new SafeTensorsFormatException($"{source}: codebooks[{level},{code},{dim}] = {data[i]} is not finite");
            }
        }
        var encoder = CodebookEncoder.FromFile(file, (int)d);
        return new Codebook(layout, (int)d, data, HashOf(bytes.Span), bytes, encoder);
    }

    /// <summary>Builds a codebook in memory (tests, synthetic data) and serializes it, so its hash is real.</summary>
    public static Codebook Create(int levels, int codesPerLevel, int dimension, ReadOnlySpan<float> values)
    {
        var bytes = SafeTensorsWriter.ToBytes([SafeTensorsWriter.F32(TensorName, [levels, codesPerLevel, dimension], values)]);
        return FromBytes(bytes, "memory");
    }

    public ReadOnlySpan<float> Codeword(int level, int code) =>
        _data.AsSpan(((level * CodesPerLevel) + code) * Dimension, Dimension);

    /// <summary>Σ_l codebook[l, code_l, :], normalised to unit length (a zero sum stays zero: it matches nothing).</summary>
    public void Reconstruct(ulong packedSid, Span<float> destination)
    {
        Span<uint> codes = stackalloc uint[Levels];
        Layout.Unpack(packedSid, codes);
        Reconstruct(codes, destination);
    }

    public void Reconstruct(ReadOnlySpan<uint> codes, Span<float> destination)
    {
        var dest = destination[..Dimension];
        Codeword(0, (int)codes[0]).CopyTo(dest);
        for (int l = 1; l < Levels; l++) TensorPrimitives.Add(dest, Codeword(l, (int)codes[l]), dest);
        float norm = TensorPrimitives.Norm(dest);
        if (norm > 0f) TensorPrimitives.Multiply(dest, 1f / norm, dest);
    }

    /// <summary>
    /// Residual quantisation (RQ-VAE Algorithm 1, step 2): per level, the code of the raw codeword nearest (Euclidean)
    /// to the residual, then residual −= that codeword. Ties keep the lowest code. Allocation-free.
    /// </summary>
    public void Quantize(ReadOnlySpan<float> latent, Span<uint> codes)
    {
        if (latent.Length != Dimension)
            throw new ArgumentException($"latent has {latent.Length} values; the codebook has d = {Dimension}", nameof(latent));
        if (codes.Length < Levels)
            throw new ArgumentException($"codes has room for {codes.Length} codes; the codebook has {Levels} levels", nameof(codes));
        float[]? rented = null;
        Span<float> residual = Dimension <= 512 ? stackalloc float[512] : (rented = ArrayPool<float>.Shared.Rent(Dimension));
        residual = residual[..Dimension];
        try
        {
            latent.CopyTo(residual);
            for (int l = 0; l < Levels; l++)
            {
                int best = 0;
                float bestDistance = float.PositiveInfinity;
                for (int k = 0; k < CodesPerLevel; k++)
                {
                    // ‖r − c‖ from the difference, not ‖r‖² − 2r·c + ‖c‖²: no cancellation, and the trainer computes it the same way.
                    float dist = TensorPrimitives.Distance(residual, Codeword(l, k));
                    if (dist < bestDistance) { bestDistance = dist; best = k; }
                }
                codes[l] = (uint)best;
                TensorPrimitives.Subtract(residual, Codeword(l, best), residual);
            }
        }
        finally
        {
            if (rented is not null) ArrayPool<float>.Shared.Return(rented);
        }
    }
}
