using System.Buffers.Binary;
using System.Text;
using CoNRec.Core;
using Xunit;

namespace CoNRec.Core.Tests;

public class SafeTensorsTests
{
    /// <summary>Builds a file by hand: 8-byte little-endian header length, UTF-8 JSON header, data bytes.</summary>
    internal static byte[] RawFile(string headerJson, byte[]? data = null, ulong? declaredLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        data ??= [];
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    private static SafeTensorsFormatException ParseFails(byte[] bytes, string source = "bad.safetensors")
    {
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Parse(bytes, source));
        Assert.StartsWith(source + ":", e.Message);
        return e;
    }

    private static ulong HeaderLengthOf(byte[] file) => BinaryPrimitives.ReadUInt64LittleEndian(file);

    // ---------------------------------------------------------------- round trips

    [Fact]
    public void F32_round_trip_preserves_values_shape_and_offsets()
    {
        float[] values = [1f, -2.5f, 3.14159274f, 0f, float.MaxValue, float.Epsilon];
        var bytes = SafeTensorsWriter.ToBytes([SafeTensorsWriter.F32("w", [2, 3], values)]);

        var header = HeaderLengthOf(bytes);
        Assert.Equal(0UL, header % 8);
        Assert.Equal(8 + (long)header + 24, bytes.Length);

        var file = SafeTensorsFile.Parse(bytes, "f32");
        var t = file.Tensors["w"];
        Assert.Equal(SafeTensorDType.F32, t.DType);
        Assert.Equal([2L, 3L], t.Shape);
        Assert.Equal(0, t.Begin);
        Assert.Equal(24, t.End);
        Assert.Equal(6, t.ElementCount);
        Assert.Equal(values, file.ReadAsFloat32(t));
        // Raw data bytes are little-endian IEEE 754: 1.0f = 00 00 80 3F.
        Assert.Equal(new byte[] { 0x00, 0x00, 0x80, 0x3F }, file.GetBytes(t)[..4].ToArray());
    }

    [Fact]
    public void F16_round_trip_preserves_exactly_representable_values()
    {
        // All exactly representable in half precision.
        float[] values = [1f, -2.5f, 0.5f, 65504f, -0.0009765625f, 0f];
        var bytes = SafeTensorsWriter.ToBytes([SafeTensorsWriter.F16("h", [6], values)]);
        Assert.Equal(0UL, HeaderLengthOf(bytes) % 8);

        var file = SafeTensorsFile.Parse(bytes, "f16");
        var t = file.Tensors["h"];
        Assert.Equal(SafeTensorDType.F16, t.DType);
        Assert.Equal(12, t.ByteLength);
        Assert.Equal(values, file.ReadAsFloat32(t));
        // 1.0 in binary16 is 0x3C00, -2.5 is 0xC100 (little-endian on disk).
        Assert.Equal(new byte[] { 0x00, 0x3C, 0x00, 0xC1 }, file.GetBytes(t)[..4].ToArray());
    }

    [Fact]
    public void BF16_round_trip_is_exact_for_representable_values()
    {
        // 3.140625 = 0x40490000 in f32: the low 16 bits are zero, so it is exact in bf16.
        float[] values = [1f, -2.5f, 3.140625f, 0f, -0f, 256f];
        var bytes = SafeTensorsWriter.ToBytes([SafeTensorsWriter.BF16("b", [3, 2], values)]);
        Assert.Equal(0UL, HeaderLengthOf(bytes) % 8);

        var file = SafeTensorsFile.Parse(bytes, "bf16");
        var t = file.Tensors["b"];
        Assert.Equal(SafeTensorDType.BF16, t.DType);
        var back = file.ReadAsFloat32(t);
        Assert.Equal(values, back);
        Assert.True(float.IsNegative(back[4])); // -0 keeps its sign
        // bf16 is the top half of the f32 bits: 1.0 = 0x3F80, -2.5 = 0xC020, 3.140625 = 0x4049.
        Assert.Equal(new byte[] { 0x80, 0x3F, 0x20, 0xC0, 0x49, 0x40 }, file.GetBytes(t)[..6].ToArray());
    }

    [Fact]
    public void BF16_writer_rounds_to_nearest_even()
    {
        // Hand-computed bit patterns:
        // 0x3F808000 is exactly halfway between 0x3F80 and 0x3F81: ties to even -> 0x3F80.
        // 0x3F818000 is halfway between 0x3F81 and 0x3F82: ties to even -> 0x3F82.
        // 0x3F808001 is just above halfway -> 0x3F81.
        // 0x3F807FFF is just below halfway -> 0x3F80.
        float[] values =
        [
            BitConverter.Int32BitsToSingle(0x3F808000),
            BitConverter.Int32BitsToSingle(0x3F818000),
            BitConverter.Int32BitsToSingle(0x3F808001),
            BitConverter.Int32BitsToSingle(0x3F807FFF),
        ];
        var entry = SafeTensorsWriter.BF16("b", [4], values);
        ushort[] expected = [0x3F80, 0x3F82, 0x3F81, 0x3F80];
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(expected[i], BinaryPrimitives.ReadUInt16LittleEndian(entry.Data.AsSpan(i * 2)));
    }

    [Fact]
    public void BF16_writer_keeps_NaN_as_NaN()
    {
        float[] values =
        [
            BitConverter.Int32BitsToSingle(0x7F800001), // NaN, payload only in the low bits
            BitConverter.Int32BitsToSingle(unchecked((int)0xFFFFFFFF)), // negative NaN, all payload bits set
        ];
        var bytes = SafeTensorsWriter.ToBytes([SafeTensorsWriter.BF16("b", [2], values)]);
        var file = SafeTensorsFile.Parse(bytes, "nan");
        var back = file.ReadAsFloat32(file.Tensors["b"]);
        Assert.True(float.IsNaN(back[0]), $"got {back[0]}");
        Assert.True(float.IsNaN(back[1]), $"got {back[1]}");
    }

    [Fact]
    public void Multiple_tensors_get_consecutive_offsets_and_keep_their_values()
    {
        var bytes = SafeTensorsWriter.ToBytes(
        [
            SafeTensorsWriter.F32("a", [2], [1f, 2f]),
            SafeTensorsWriter.F16("b", [3], [3f, 4f, 5f]),
            SafeTensorsWriter.BF16("c", [1], [6f]),
        ]);
        var file = SafeTensorsFile.Parse(bytes, "multi");
        Assert.Equal(3, file.Tensors.Count);
        Assert.Equal((0L, 8L), (file.Tensors["a"].Begin, file.Tensors["a"].End));
        Assert.Equal((8L, 14L), (file.Tensors["b"].Begin, file.Tensors["b"].End));
        Assert.Equal((14L, 16L), (file.Tensors["c"].Begin, file.Tensors["c"].End));
        Assert.Equal([1f, 2f], file.ReadAsFloat32(file.Tensors["a"]));
        Assert.Equal([3f, 4f, 5f], file.ReadAsFloat32(file.Tensors["b"]));
        Assert.Equal([6f], file.ReadAsFloat32(file.Tensors["c"]));
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void Metadata_round_trips()
    {
        var meta = new Dictionary<string, string> { ["producer"] = "unit test", ["seed"] = "42", ["unicode"] = "héllo \"quoted\"" };
        var bytes = SafeTensorsWriter.ToBytes([SafeTensorsWriter.F32("x", [1], [7f])], meta);
        Assert.Equal(0UL, HeaderLengthOf(bytes) % 8);
        var file = SafeTensorsFile.Parse(bytes, "meta");
        Assert.Equal(meta.OrderBy(p => p.Key), file.Metadata.OrderBy(p => p.Key));
        Assert.False(file.Tensors.ContainsKey("__metadata__"));
        Assert.Single(file.Tensors);
    }

    [Fact]
    public void Header_is_padded_with_spaces_to_a_multiple_of_eight()
    {
        // Try several name lengths so that at least some headers need padding.
        for (int n = 1; n <= 9; n++)
        {
            var bytes = SafeTensorsWriter.ToBytes([SafeTensorsWriter.F32(new string('n', n), [1], [1f])]);
            int len = checked((int)HeaderLengthOf(bytes));
            Assert.Equal(0, len % 8);
            var header = Encoding.UTF8.GetString(bytes, 8, len);
            Assert.StartsWith("{", header);
            Assert.EndsWith("}", header.TrimEnd(' '));
            Assert.True(header.Length - header.TrimEnd(' ').Length < 8);
        }
    }

    [Fact]
    public void Writer_rejects_data_that_does_not_match_the_shape()
    {
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.ToBytes([SafeTensorsWriter.F32("x", [2, 2], [1f, 2f, 3f])]));
    }

    [Fact]
    public void Hand_built_file_parses_and_zero_length_tensors_do_not_count_as_overlapping()
    {
        var data = new byte[8];
        BinaryPrimitives.WriteSingleLittleEndian(data, 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -4f);
        var bytes = RawFile("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"empty":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}""", data);
        var file = SafeTensorsFile.Parse(bytes, "hand");
        Assert.Equal([1.5f, -4f], file.ReadAsFloat32(file.Tensors["x"]));
        Assert.Empty(file.ReadAsFloat32(file.Tensors["empty"]));
    }

    [Fact]
    public void ReadAsFloat32_rejects_integer_tensors()
    {
        var bytes = RawFile("""{"i":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}""", new byte[4]);
        var file = SafeTensorsFile.Parse(bytes, "int");
        var e = Assert.Throws<SafeTensorsFormatException>(() => file.ReadAsFloat32(file.Tensors["i"]));
        Assert.Contains("I32", e.Message);
    }

    [Fact]
    public void Require_names_the_missing_tensor()
    {
        var file = SafeTensorsFile.Parse(SafeTensorsWriter.ToBytes([SafeTensorsWriter.F32("x", [1], [1f])]), "req");
        var e = Assert.Throws<SafeTensorsFormatException>(() => file.Require("nope"));
        Assert.Contains("'nope'", e.Message);
    }

    // ---------------------------------------------------------------- malformed input

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void File_shorter_than_eight_bytes_is_rejected(int length)
    {
        var e = ParseFails(new byte[length]);
        Assert.Contains($"{length} bytes", e.Message);
        Assert.Contains("8-byte", e.Message);
    }

    [Fact]
    public void Header_length_past_the_end_of_the_file_is_truncated()
    {
        // Declares a 64-byte header but only 16 bytes follow.
        var bytes = RawFile("{}              ", declaredLength: 64);
        var e = ParseFails(bytes);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("64", e.Message);
    }

    [Fact]
    public void Header_length_above_100MB_is_rejected_before_anything_else()
    {
        var bytes = RawFile("{}", declaredLength: 100_000_001);
        var e = ParseFails(bytes);
        Assert.Contains("100000001", e.Message);
        Assert.Contains("100000000", e.Message);
        Assert.DoesNotContain("truncated", e.Message);

        // Even larger (the top bit set): must not wrap to a negative length.
        var huge = RawFile("{}", declaredLength: ulong.MaxValue);
        Assert.Contains("100000000", ParseFails(huge).Message);
    }

    [Theory]
    [InlineData("{not json}")]
    [InlineData("")]
    [InlineData("{\"a\":")]
    public void Header_that_is_not_json_is_rejected(string header)
    {
        var e = ParseFails(RawFile(header));
        Assert.Contains("JSON", e.Message);
    }

    [Fact]
    public void Header_that_is_a_json_array_is_rejected()
    {
        var e = ParseFails(RawFile("[1,2,3]"));
        Assert.Contains("object", e.Message);
        Assert.Contains("Array", e.Message);
    }

    [Fact]
    public void Tensor_without_dtype_is_rejected()
    {
        var e = ParseFails(RawFile("""{"w":{"shape":[1],"data_offsets":[0,4]}}""", new byte[4]));
        Assert.Contains("'w'", e.Message);
        Assert.Contains("'dtype'", e.Message);
    }

    [Fact]
    public void Unsupported_dtype_is_rejected()
    {
        var e = ParseFails(RawFile("""{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}""", new byte[1]));
        Assert.Contains("'Q4'", e.Message);
        Assert.Contains("dtype", e.Message);
    }

    [Fact]
    public void Dtype_names_are_case_sensitive()
    {
        var e = ParseFails(RawFile("""{"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}""", new byte[4]));
        Assert.Contains("'f32'", e.Message);
    }

    [Fact]
    public void Missing_shape_is_rejected()
    {
        var e = ParseFails(RawFile("""{"w":{"dtype":"F32","data_offsets":[0,4]}}""", new byte[4]));
        Assert.Contains("'shape'", e.Message);
    }

    [Theory]
    [InlineData("[2,-1]", "shape[1]")]
    [InlineData("[-3]", "shape[0]")]
    [InlineData("[1.5]", "shape[0]")]
    [InlineData("[\"2\"]", "shape[0]")]
    public void Shape_with_a_bad_dimension_is_rejected(string shape, string field)
    {
        var e = ParseFails(RawFile("""{"w":{"dtype":"F32","shape":""" + shape + ""","data_offsets":[0,8]}}""", new byte[8]));
        Assert.Contains(field, e.Message);
        Assert.Contains("non-negative", e.Message);
    }

    [Fact]
    public void Rank_above_eight_is_rejected()
    {
        var e = ParseFails(RawFile("""{"w":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}""", new byte[1]));
        Assert.Contains("rank 9", e.Message);
    }

    [Fact]
    public void Shape_whose_element_count_overflows_is_rejected()
    {
        var e = ParseFails(RawFile("""{"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,1]}}""", new byte[1]));
        Assert.Contains("overflow", e.Message);
    }

    [Fact]
    public void Data_offsets_end_beyond_the_data_is_truncated()
    {
        var e = ParseFails(RawFile("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", new byte[12]));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("16", e.Message);
        Assert.Contains("12 bytes", e.Message);
    }

    [Fact]
    public void Byte_count_not_matching_shape_times_dtype_size_is_rejected()
    {
        // shape [3] of F32 needs 12 bytes; offsets give 8.
        var e = ParseFails(RawFile("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", new byte[12]));
        Assert.Contains("8 bytes", e.Message);
        Assert.Contains("needs 12", e.Message);

        // shape [2,2] of BF16 needs 8 bytes; offsets give 16.
        var e2 = ParseFails(RawFile("""{"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,16]}}""", new byte[16]));
        Assert.Contains("needs 8", e2.Message);
    }

    [Fact]
    public void Overlapping_tensors_are_rejected()
    {
        var e = ParseFails(RawFile(
            """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""",
            new byte[12]));
        Assert.Contains("overlap", e.Message);
        Assert.Contains("'a'", e.Message);
        Assert.Contains("'b'", e.Message);
    }

    [Fact]
    public void Overlap_is_detected_regardless_of_header_order()
    {
        var e = ParseFails(RawFile(
            """{"late":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"early":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}""",
            new byte[16]));
        Assert.Contains("overlap", e.Message);
    }

    [Fact]
    public void Adjacent_tensors_do_not_overlap()
    {
        var file = SafeTensorsFile.Parse(RawFile(
            """{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""",
            new byte[8]), "adjacent");
        Assert.Equal(2, file.Tensors.Count);
    }

    [Theory]
    [InlineData("[8,4]")]
    [InlineData("[-4,0]")]
    [InlineData("[0]")]
    [InlineData("[0,4,8]")]
    [InlineData("4")]
    public void Data_offsets_that_are_not_an_ordered_pair_are_rejected(string offsets)
    {
        var e = ParseFails(RawFile("""{"w":{"dtype":"F32","shape":[1],"data_offsets":""" + offsets + "}}", new byte[8]));
        Assert.Contains("data_offsets", e.Message);
    }

    [Fact]
    public void Data_offsets_with_non_numeric_elements_are_rejected_as_format_errors()
    {
        var e = ParseFails(RawFile("""{"w":{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}}""", new byte[4]));
        Assert.Contains("data_offsets", e.Message);
        var e2 = ParseFails(RawFile("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[null,4]}}""", new byte[4]));
        Assert.Contains("data_offsets", e2.Message);
    }

    [Fact]
    public void Tensor_listed_twice_is_rejected()
    {
        var e = ParseFails(RawFile(
            """{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""",
            new byte[2]));
        Assert.Contains("twice", e.Message);
    }

    [Fact]
    public void Metadata_must_be_an_object_of_strings()
    {
        Assert.Contains("__metadata__", ParseFails(RawFile("""{"__metadata__":[1]}""")).Message);
        Assert.Contains("__metadata__.n", ParseFails(RawFile("""{"__metadata__":{"n":1}}""")).Message);
    }

    [Fact]
    public void Truncated_real_file_is_rejected()
    {
        var full = SafeTensorsWriter.ToBytes([SafeTensorsWriter.F32("w", [4, 4], new float[16])]);
        SafeTensorsFile.Parse(full, "ok"); // the intact file is fine
        var cut = full[..^10];
        var e = ParseFails(cut, "cut.safetensors");
        Assert.Contains("truncated", e.Message);
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void Load_reports_a_missing_file()
    {
        var path = Path.Combine(Path.GetTempPath(), "conrec-missing-" + Guid.NewGuid().ToString("N") + ".safetensors");
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void Load_reads_a_file_from_disk()
    {
        var path = Path.Combine(Path.GetTempPath(), "conrec-st-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            File.WriteAllBytes(path, SafeTensorsWriter.ToBytes([SafeTensorsWriter.F32("w", [2], [0.25f, -8f])]));
            var file = SafeTensorsFile.Load(path);
            Assert.Equal(path, file.Source);
            Assert.Equal([0.25f, -8f], file.ReadAsFloat32(file.Tensors["w"]));
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(SafeTensorDType.F64, 8)]
    [InlineData(SafeTensorDType.I64, 8)]
    [InlineData(SafeTensorDType.F32, 4)]
    [InlineData(SafeTensorDType.I32, 4)]
    [InlineData(SafeTensorDType.F16, 2)]
    [InlineData(SafeTensorDType.BF16, 2)]
    [InlineData(SafeTensorDType.I16, 2)]
    [InlineData(SafeTensorDType.I8, 1)]
    [InlineData(SafeTensorDType.U8, 1)]
    [InlineData(SafeTensorDType.Bool, 1)]
    public void DType_sizes_and_names_round_trip(SafeTensorDType dtype, int size)
    {
        Assert.Equal(size, SafeTensorsFile.DTypeSize(dtype));
        Assert.Equal(dtype, SafeTensorsFile.ParseDType(SafeTensorsFile.DTypeName(dtype)));
    }

    [Fact]
    public void Bool_dtype_is_named_BOOL()
    {
        Assert.Equal("BOOL", SafeTensorsFile.DTypeName(SafeTensorDType.Bool));
        Assert.Null(SafeTensorsFile.ParseDType("Bool"));
    }
}
