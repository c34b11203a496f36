using System.Buffers;
using System.Globalization;
using System.Numerics.Tensors;

namespace CoNRec.Core;

/// <summary>How the RQ-VAE trainer normalised an item's feature vector before its encoder saw it.</summary>
public enum EncoderInputNorm
{
    /// <summary>The raw vector goes in.</summary>
    None,
    /// <summary>x / ‖x‖₂ goes in (a zero vector stays zero).</summary>
    L2,
}

/// <summary>
/// The RQ-VAE encoder stored next to the codebook (<c>encoder.layers.{i}.weight</c> [out, in] and <c>.bias</c> [out],
/// Hugging Face / torch Linear layout), evaluated with plain math so the filter service can turn a cold-start item's
/// feature vector into a latent without TorchSharp. ReLU between layers, none after the last, as the trainer builds it.
/// Metadata: <c>conrec.encoder.activation</c> ("relu"; absent means "relu") and <c>conrec.encoder.input_norm</c>
/// ("l2" or "none"; absent means "none").
/// </summary>
public sealed class CodebookEncoder
{
    public const string Prefix = "encoder.";
    public const string ActivationKey = "conrec.encoder.activation";
    public const string InputNormKey = "conrec.encoder.input_norm";
    public const int MaxLayers = 8;
    public const int MaxInputDimension = 65_536;
    /// <summary>Hidden widths share the input's limit: a layer's scratch row must stay a sane size.</summary>
    public const int MaxWidth = 65_536;
    /// <summary>Widths up to this many floats use stack scratch; wider ones rent from the shared pool.</summary>
    private const int StackFloats = 1024;

    private readonly float[][] _weights; // layer i: [out_i * in_i], row-major
    private readonly float[][] _biases;
    private readonly int[] _in;
    private readonly int[] _out;
    private readonly int _maxWidth;

    public int InputDimension => _in[0];
    public int OutputDimension => _out[^1];
    public int LayerCount => _weights.Length;
    public EncoderInputNorm InputNorm { get; }

    private CodebookEncoder(float[][] weights, float[][] biases, int[] inDims, int[] outDims, EncoderInputNorm norm)
    {
        _weights = weights;
        _biases = biases;
        _in = inDims;
        _out = outDims;
        InputNorm = norm;
        _maxWidth = outDims.Max();
    }

    /// <summary>
    /// Reads the <c>encoder.*</c> tensors of a codebook file; null when there are none (a codebook without an encoder).
    /// Every error names the tensor (or metadata key) and the limit it broke.
    /// </summary>
    public static CodebookEncoder? FromFile(SafeTensorsFile file, int codebookDimension)
    {
        string source = file.Source;
        var names = file.Tensors.Keys.Where(k => k.StartsWith(Prefix, StringComparison.Ordinal)).ToList();
        if (names.Count == 0) return null;

        var activation = file.Metadata.GetValueOrDefault(ActivationKey, "relu");
        if (activation != "relu")
            throw new SafeTensorsFormatException($"{source}: metadata '{ActivationKey}' = '{activation}' is not supported; expected 'relu'");
        var normText = file.Metadata.GetValueOrDefault(InputNormKey, "none");
        var norm = normText switch
        {
            "none" => EncoderInputNorm.None,
            "l2" => EncoderInputNorm.L2,
            _ => throw new SafeTensorsFormatException($"{source}: metadata '{InputNormKey}' = '{normText}' is not supported; expected 'l2' or 'none'"),
        };

        // Accept exactly encoder.layers.{i}.weight / .bias with i = 0..n-1: a stray name is more likely a mistake than intent.
        var indices = new SortedSet<int>();
        foreach (var name in names)
        {
            var rest = name.AsSpan(Prefix.Length);
            int dot = rest.LastIndexOf('.');
            var kind = dot < 0 ? default : rest[(dot + 1)..];
            var head = dot < 0 ? rest : rest[..dot];
            if (!head.StartsWith("layers.") || (kind is not "weight" && kind is not "bias") ||
                !int.TryParse(head["layers.".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int index) ||
                !head["layers.".Length..].SequenceEqual(index.ToString(CultureInfo.InvariantCulture))) // "01" would alias layer 1
                throw new SafeTensorsFormatException($"{source}: tensor '{name}' is not an encoder weight; expected 'encoder.layers.{{i}}.weight' or '.bias'");
            if (index >= MaxLayers)
                throw new SafeTensorsFormatException($"{source}: tensor '{name}': layer index {index} exceeds the limit of {MaxLayers} layers");
            indices.Add(index);
        }
        int layers = indices.Max + 1;

        var weights = new float[layers][];
        var biases = new float[layers][];
        var inDims = new int[layers];
        var outDims = new int[layers];
        for (int i = 0; i < layers; i++)
        {
            string wName = $"{Prefix}layers.{i}.weight", bName = $"{Prefix}layers.{i}.bias";
            var w = file.Tensors.GetValueOrDefault(wName)
                ?? throw new SafeTensorsFormatException($"{source}: tensor '{wName}' is missing; encoder layers must be numbered 0..{layers - 1} without gaps");
            var b = file.Tensors.GetValueOrDefault(bName)
                ?? throw new SafeTensorsFormatException($"{source}: tensor '{bName}' is missing; every encoder layer needs a bias");
            RequireFloat(source, w);
            RequireFloat(source, b);
            if (w.Shape.Length != 2)
                throw new SafeTensorsFormatException($"{source}: tensor '{wName}' has shape [{string.Join(",", w.Shape)}]; expected [out, in]");
            long o = w.Shape[0], n = w.Shape[1];
            long inLimit = i == 0 ? MaxInputDimension : MaxWidth;
            if (n < 1 || n > inLimit)
                throw new SafeTensorsFormatException($"{source}: tensor '{wName}' has in = {n}; must be in [1, {inLimit}]");
            if (o < 1 || o > MaxWidth)
                throw new SafeTensorsFormatException($"{source}: tensor '{wName}' has out = {o}; must be in [1, {MaxWidth}]");
            if (i > 0 && n != outDims[i - 1])
                throw new SafeTensorsFormatException($"{source}: tensor '{wName}' has in = {n} but layer {i - 1} outputs {outDims[i - 1]}");
            if (b.Shape.Length != 1 || b.Shape[0] != o)
                throw new SafeTensorsFormatException($"{source}: tensor '{bName}' has shape [{string.Join(",", b.Shape)}]; expected [{o}] (the weight's out)");
            inDims[i] = (int)n;
            outDims[i] = (int)o;
            weights[i] = ReadFinite(file, w);
            biases[i] = ReadFinite(file, b);
        }
        if (outDims[^1] != codebookDimension)
            throw new SafeTensorsFormatException(
                $"{source}: tensor '{Prefix}layers.{layers - 1}.weight' outputs {outDims[^1]} values; the last encoder layer must output the codebook's d = {codebookDimension}");
        return new CodebookEncoder(weights, biases, inDims, outDims, norm);
    }

    private static void RequireFloat(string source, SafeTensorInfo t)
    {
        if (t.DType is not (SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16))
            throw new SafeTensorsFormatException($"{source}: tensor '{t.Name}' has dtype {t.DType}; expected F32, F16 or BF16");
    }

    private static float[] ReadFinite(SafeTensorsFile file, SafeTensorInfo t)
    {
        var data = file.ReadAsFloat32(t);
        for (int k = 0; k < data.Length; k++)
        {
            if (!float.IsFinite(data[k]))
                throw new SafeTensorsFormatException($"{file.Source}: tensor '{t.Name}' element {k} = {data[k]} is not finite");
        }
        return data;
    }

    /// <summary>
    /// latent[..OutputDimension] = encoder(x). Allocation-free: hidden rows live on the stack (or in pooled arrays for
    /// widths above 1024). x must hold exactly <see cref="InputDimension"/> values.
    /// </summary>
    public void Encode(ReadOnlySpan<float> x, Span<float> latent)
    {
        if (x.Length != InputDimension)
            throw new ArgumentException($"x has {x.Length} values; the encoder expects {InputDimension}", nameof(x));
        if (latent.Length < OutputDimension)
            throw new ArgumentException($"latent has room for {latent.Length} values; the encoder outputs {OutputDimension}", nameof(latent));

        float[]? rented = null;
        Span<float> scratch = _maxWidth * 2 <= StackFloats
            ? stackalloc float[StackFloats]
            : (rented = ArrayPool<float>.Shared.Rent(_maxWidth * 2));
        try
        {
            Span<float> a = scratch[.._maxWidth], b = scratch.Slice(_maxWidth, _maxWidth);
            // W·(x/‖x‖) = (W·x)/‖x‖: the input norm is folded into layer 0, so x is never copied.
            float scale = 1f;
            if (InputNorm == EncoderInputNorm.L2)
            {
                float norm = TensorPrimitives.Norm(x);
                scale = norm > 0f ? 1f / norm : 0f;
            }
            scoped ReadOnlySpan<float> input = x;
            for (int layer = 0; layer < _weights.Length; layer++)
            {
                bool last = layer == _weights.Length - 1;
                var output = last ? latent[..OutputDimension] : (layer % 2 == 0 ? a : b)[.._out[layer]];
                var w = _weights[layer];
                int n = _in[layer];
                for (int j = 0; j < output.Length; j++)
                {
                    float dot = TensorPrimitives.Dot(w.AsSpan(j * n, n), input);
                    output[j] = (layer == 0 ? dot * scale : dot) + _biases[layer][j];
                }
                if (!last) TensorPrimitives.Max(output, 0f, output);
                input = output;
            }
        }
        finally
        {
            if (rented is not null) ArrayPool<float>.Shared.Return(rented);
        }
    }
}
