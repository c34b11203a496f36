using CoNRec.Core;
using Xunit;

namespace CoNRec.Core.Tests;

public class CodebookEncoderTests
{
    // Codebook L=2, K=3, d=2. level0: [0,0], [4,0], [0,-4]; level1: [1,1], [0,-1], [-1,-2].
    private static readonly float[] Codewords = [0, 0, 4, 0, 0, -4, 1, 1, 0, -1, -1, -2];

    // Encoder 2 → 3 → 2: W0 = [[1,0],[0,1],[1,1]], b0 = [0,-1,0.5]; W1 = [[1,0,1],[0,2,-1]], b1 = [0.5,0].
    private static List<SafeTensorsWriter.Entry> Tensors(float[]? b0 = null) =>
    [
        SafeTensorsWriter.F32(Codebook.TensorName, [2, 3, 2], Codewords),
        SafeTensorsWriter.F32("encoder.layers.0.weight", [3, 2], [1, 0, 0, 1, 1, 1]),
        SafeTensorsWriter.F32("encoder.layers.0.bias", [3], b0 ?? [0, -1, 0.5f]),
        SafeTensorsWriter.F32("encoder.layers.1.weight", [2, 3], [1, 0, 1, 0, 2, -1]),
        SafeTensorsWriter.F32("encoder.layers.1.bias", [2], [0.5f, 0]),
    ];

    private static Codebook Load(IEnumerable<SafeTensorsWriter.Entry> entries, string norm = "none") =>
        Codebook.FromBytes(SafeTensorsWriter.ToBytes(entries, new Dictionary<string, string>
        {
            [CodebookEncoder.ActivationKey] = "relu",
            [CodebookEncoder.InputNormKey] = norm,
        }), "cb.safetensors");

    private static string Fails(IEnumerable<SafeTensorsWriter.Entry> entries, Dictionary<string, string>? metadata = null)
    {
        var e = Assert.Throws<SafeTensorsFormatException>(() => Codebook.FromBytes(SafeTensorsWriter.ToBytes(entries, metadata), "cb.safetensors"));
        Assert.StartsWith("cb.safetensors:", e.Message);
        return e.Message;
    }

    [Fact]
    public void Encode_and_quantize_match_hand_computed_values()
    {
        var cb = Load(Tensors());
        var enc = Assert.IsType<CodebookEncoder>(cb.Encoder);
        Assert.Equal((2, 2, 2, EncoderInputNorm.None), (enc.InputDimension, enc.OutputDimension, enc.LayerCount, enc.InputNorm));

        // x = [2,-1]: h = relu([2, -2, 1.5]) = [2, 0, 1.5]; latent = [2 + 1.5 + 0.5, 0 - 1.5] = [4, -1.5].
        var latent = new float[2];
        enc.Encode([2f, -1f], latent);
        Assert.Equal([4f, -1.5f], latent);
        // Level 0: distances 4.27, 1.5, 4.72 → code 1, residual [0,-1.5]. Level 1: 2.69, 0.5, 1.12 → code 1.
        var codes = new uint[2];
        cb.Quantize(latent, codes);
        Assert.Equal([1u, 1u], codes);
    }

    [Fact]
    public void L2_input_norm_scales_the_input_before_layer_0()
    {
        var cb = Load(Tensors(), norm: "l2");
        Assert.Equal(EncoderInputNorm.L2, cb.Encoder!.InputNorm);
        // x = [3,4] → [0.6,0.8]: h = relu([0.6, -0.2, 1.9]) = [0.6, 0, 1.9]; latent = [3.0, -1.9].
        var latent = new float[2];
        cb.Encoder.Encode([3f, 4f], latent);
        Assert.Equal(3.0f, latent[0], 5);
        Assert.Equal(-1.9f, latent[1], 5);
        // Level 0: distances 3.55, 2.15, 3.66 → code 1, residual [-1,-1.9]. Level 1: 3.52, 1.35, 0.1 → code 2.
        var codes = new uint[2];
        cb.Quantize(latent, codes);
        Assert.Equal([1u, 2u], codes);
        // A zero vector stays zero (no division by zero): latent = W1·relu(b0) + b1 = [0.5 + 0.5, -0.5] = [1, -0.5].
        cb.Encoder.Encode([0f, 0f], latent);
        Assert.Equal([1f, -0.5f], latent);
    }

    [Fact]
    public void A_codebook_without_encoder_still_loads_and_quantizes()
    {
        var cb = Codebook.FromBytes(SafeTensorsWriter.ToBytes([SafeTensorsWriter.F32(Codebook.TensorName, [2, 3, 2], Codewords)]), "cb");
        Assert.Null(cb.Encoder);
        var codes = new uint[2];
        cb.Quantize([0.2f, -4.5f], codes); // nearest [0,-4], residual [0.2,-0.5] → nearest [0,-1]
        Assert.Equal([2u, 1u], codes);
    }

    [Fact]
    public void Missing_metadata_defaults_to_relu_without_input_norm()
    {
        var cb = Codebook.FromBytes(SafeTensorsWriter.ToBytes(Tensors()), "cb");
        Assert.Equal(EncoderInputNorm.None, cb.Encoder!.InputNorm);
    }

    [Fact]
    public void Wrong_lengths_are_rejected_naming_the_argument()
    {
        var cb = Load(Tensors());
        var e = Assert.Throws<ArgumentException>(() => cb.Encoder!.Encode(new float[3], new float[2]));
        Assert.Contains("x has 3 values; the encoder expects 2", e.Message);
        e = Assert.Throws<ArgumentException>(() => cb.Quantize(new float[3], new uint[2]));
        Assert.Contains("latent has 3 values; the codebook has d = 2", e.Message);
    }

    [Fact]
    public void Shape_chain_mismatch_names_the_tensor()
    {
        var t = Tensors();
        t[3] = SafeTensorsWriter.F32("encoder.layers.1.weight", [2, 4], new float[8]);
        var m = Fails(t);
        Assert.Contains("'encoder.layers.1.weight' has in = 4 but layer 0 outputs 3", m);
    }

    [Fact]
    public void Last_layer_must_output_the_codebook_dimension()
    {
        var t = Tensors();
        t[3] = SafeTensorsWriter.F32("encoder.layers.1.weight", [3, 3], new float[9]);
        t[4] = SafeTensorsWriter.F32("encoder.layers.1.bias", [3], new float[3]);
        Assert.Contains("'encoder.layers.1.weight' outputs 3 values; the last encoder layer must output the codebook's d = 2", Fails(t));
    }

    [Fact]
    public void Non_finite_values_name_the_tensor_and_element()
    {
        Assert.Contains("tensor 'encoder.layers.0.bias' element 1 = NaN is not finite", Fails(Tensors(b0: [0, float.NaN, 0])));
        var inf = Fails(Tensors(b0: [0, 0, float.PositiveInfinity]));
        Assert.Contains("tensor 'encoder.layers.0.bias' element 2 = ", inf);
        Assert.EndsWith("is not finite", inf);
    }

    [Fact]
    public void Wrong_dtype_names_the_tensor()
    {
        var t = Tensors();
        t[1] = new SafeTensorsWriter.Entry("encoder.layers.0.weight", SafeTensorDType.I32, [3, 2], new byte[24]);
        Assert.Contains("tensor 'encoder.layers.0.weight' has dtype I32; expected F32, F16 or BF16", Fails(t));
    }

    [Fact]
    public void Unknown_metadata_values_are_rejected_naming_the_key()
    {
        Assert.Contains("'conrec.encoder.activation' = 'gelu' is not supported",
            Fails(Tensors(), new Dictionary<string, string> { [CodebookEncoder.ActivationKey] = "gelu" }));
        Assert.Contains("'conrec.encoder.input_norm' = 'zscore' is not supported",
            Fails(Tensors(), new Dictionary<string, string> { [CodebookEncoder.InputNormKey] = "zscore" }));
    }

    [Fact]
    public void Missing_bias_gaps_stray_names_and_too_many_layers_are_rejected()
    {
        Assert.Contains("'encoder.layers.1.bias' is missing", Fails(Tensors().Where(e => e.Name != "encoder.layers.1.bias")));
        var gap = Tensors();
        gap.Add(SafeTensorsWriter.F32("encoder.layers.3.bias", [2], new float[2]));
        Assert.Contains("'encoder.layers.2.weight' is missing", Fails(gap));
        var stray = Tensors();
        stray.Add(SafeTensorsWriter.F32("encoder.norm.weight", [2], new float[2]));
        Assert.Contains("tensor 'encoder.norm.weight' is not an encoder weight", Fails(stray));
        var deep = Tensors();
        deep.Add(SafeTensorsWriter.F32("encoder.layers.8.bias", [2], new float[2]));
        Assert.Contains("'encoder.layers.8.bias': layer index 8 exceeds the limit of 8 layers", Fails(deep));
    }

    [Fact]
    public void Input_dimension_above_the_limit_is_rejected()
    {
        var t = new List<SafeTensorsWriter.Entry>
        {
            SafeTensorsWriter.F32(Codebook.TensorName, [1, 1, 1], [1f]),
            SafeTensorsWriter.F32("encoder.layers.0.weight", [1, 65_537], new float[65_537]),
            SafeTensorsWriter.F32("encoder.layers.0.bias", [1], [0f]),
        };
        Assert.Contains("'encoder.layers.0.weight' has in = 65537; must be in [1, 65536]", Fails(t));
    }

    [Fact]
    public void Wide_layers_use_pooled_scratch_and_give_the_same_result()
    {
        // 1 → 600 → 1: hidden j = relu(x - j/600); the output sums them. Above the 1024-float stack scratch (2 × 600).
        int h = 600;
        var w0 = Enumerable.Repeat(1f, h).ToArray();
        var b0 = Enumerable.Range(0, h).Select(j => -j / 600f).ToArray();
        var t = new List<SafeTensorsWriter.Entry>
        {
            SafeTensorsWriter.F32(Codebook.TensorName, [1, 2, 1], [0f, 100f]),
            SafeTensorsWriter.F32("encoder.layers.0.weight", [h, 1], w0),
            SafeTensorsWriter.F32("encoder.layers.0.bias", [h], b0),
            SafeTensorsWriter.F32("encoder.layers.1.weight", [1, h], Enumerable.Repeat(1f, h).ToArray()),
            SafeTensorsWriter.F32("encoder.layers.1.bias", [1], [0f]),
        };
        var cb = Codebook.FromBytes(SafeTensorsWriter.ToBytes(t), "wide");
        var latent = new float[1];
        cb.Encoder!.Encode([0.5f], latent);
        // Σ_{j<300} (0.5 - j/600) = 150 - (299·300/2)/600 = 150 - 74.75 = 75.25.
        Assert.Equal(75.25f, latent[0], 3);
    }

    [Fact]
    public void Encode_and_quantize_do_not_allocate_in_steady_state()
    {
        var cb = Load(Tensors(), norm: "l2");
        float[] x = [3f, 4f], latent = new float[2];
        var codes = new uint[2];
        cb.Encoder!.Encode(x, latent); // warm-up (JIT)
        cb.Quantize(latent, codes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            cb.Encoder.Encode(x, latent);
            cb.Quantize(latent, codes);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
