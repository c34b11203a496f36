using System.Globalization;
using System.Text;

namespace CoNRec.Core;

/// <summary>
/// Deterministic synthetic codebook + catalog + predictions, for the embedded demo, tests and benchmarks.
/// Codewords shrink by half per level, as residual codebooks do, so items sharing a prefix are similar.
/// </summary>
public static class SampleData
{
    /// <param name="RecentNegatives">Profile part written as <c>recent_negatives</c> per user (0: none, the old file format).</param>
    public sealed record Spec(int Users = 50, int Items = 500, int Levels = 3, int Codes = 32, int Dimension = 16, int SidsPerUser = 20, int Seed = 7)
    {
        public int RecentNegatives { get; init; }
        public int RecentPositives { get; init; }
    }

    public static Codebook WriteCodebook(string path, Spec spec)
    {
        var rng = new Random(spec.Seed);
        var values = new float[spec.Levels * spec.Codes * spec.Dimension];
        for (int l = 0; l < spec.Levels; l++)
        {
            float scale = 1f / (1 << l);
            for (int i = 0; i < spec.Codes * spec.Dimension; i++) values[(l * spec.Codes * spec.Dimension) + i] = Gaussian(rng) * scale;
        }
        var bytes = SafeTensorsWriter.ToBytes([SafeTensorsWriter.F32(Codebook.TensorName, [spec.Levels, spec.Codes, spec.Dimension], values)],
            new Dictionary<string, string> { ["producer"] = "conrec sample", ["seed"] = spec.Seed.ToString(CultureInfo.InvariantCulture) });
        File.WriteAllBytes(path, bytes);
        return Codebook.FromBytes(bytes, path);
    }

    /// <summary>Writes codebook.safetensors, catalog.jsonl and predictions.jsonl into <paramref name="directory"/>.</summary>
    public static void Write(string directory, Spec spec)
    {
        Directory.CreateDirectory(directory);
        var codebook = WriteCodebook(Path.Combine(directory, "codebook.safetensors"), spec);
        var layout = codebook.Layout;
        var rng = new Random(spec.Seed + 1);
        var sids = new ulong[spec.Items];
        var codes = new uint[spec.Levels];
        var sb = new StringBuilder();
        using (var catalog = new StreamWriter(Path.Combine(directory, "catalog.jsonl")))
        {
            for (int i = 0; i < spec.Items; i++)
            {
                for (int l = 0; l < spec.Levels; l++) codes[l] = (uint)rng.Next(spec.Codes);
                sids[i] = layout.Pack(codes);
                catalog.Write("{\"item_id\":\"i");
                catalog.Write(i);
                catalog.Write("\",\"sid\":[");
                catalog.Write(string.Join(",", codes));
                catalog.WriteLine("]}");
            }
        }
        using var predictions = new StreamWriter(Path.Combine(directory, "predictions.jsonl"));
        for (int u = 0; u < spec.Users; u++)
        {
            sb.Clear().Append("{\"user_id\":\"u").Append(u).Append("\",\"sids\":[");
            for (int k = 0; k < spec.SidsPerUser; k++)
            {
                layout.Unpack(sids[rng.Next(spec.Items)], codes);
                if (k > 0) sb.Append(',');
                sb.Append('[').AppendJoin(',', codes).Append(']');
            }
            sb.Append("],\"scores\":[");
            for (int k = 0; k < spec.SidsPerUser; k++)
            {
                if (k > 0) sb.Append(',');
                sb.Append((-0.1 * (k + 1)).ToString("F2", CultureInfo.InvariantCulture));
            }
            sb.Append(']');
            // The profile's parts draw from another stream, so files without them stay byte-identical to before.
            foreach (var (name, count) in new[] { ("recent_negatives", spec.RecentNegatives), ("recent_positives", spec.RecentPositives) })
            {
                if (count == 0) continue;
                var parts = new Random(HashCode.Combine(spec.Seed, u, name.Length));
                sb.Append(",\"").Append(name).Append("\":[");
                for (int k = 0; k < count; k++)
                {
                    layout.Unpack(sids[parts.Next(spec.Items)], codes);
                    if (k > 0) sb.Append(',');
                    sb.Append('[').AppendJoin(',', codes).Append(']');
                }
                sb.Append(']');
            }
            predictions.WriteLine(sb.Append('}').ToString());
        }
    }

    public static float Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }
}
