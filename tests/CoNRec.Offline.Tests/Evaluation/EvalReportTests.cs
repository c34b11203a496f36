using System.Text.Json;
using CoNRec.Offline.Evaluation;
using Xunit;

namespace CoNRec.Offline.Tests.Evaluation;

public sealed class EvalReportTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "conrec-eval-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static readonly Dictionary<string, ulong[]> Main = new() { ["u1"] = [1, 5], ["u2"] = [0], ["u3"] = [3] };

    /// <summary>The hand-computed EvaluatorTests run (HR 1/3, FHR 2/3, LUF 1, LIF 2/3, CandAcc 0.5) plus an empty method.</summary>
    private static EvalReport Report()
    {
        var split = EvaluatorTests.Split();
        var ev = new Evaluator(EvaluatorTests.Cb, EvaluatorTests.Catalog, new EvalOptions { CandidateCount = 3 });
        var report = new EvalReport { Title = "tiny", Split = split.Describe() };
        report.Add(ev.Evaluate("CoNRec", split, c => Main[c.UserId]));
        report.Add(ev.Evaluate("Nothing", split, _ => []));
        report.Extras["generate_seconds"] = 1.5;
        return report;
    }

    [Fact]
    public void Table_is_aligned_and_carries_the_hand_computed_numbers()
    {
        var table = Report().FormatTable();
        var lines = table.TrimEnd('\n').Split('\n');
        int header = Array.FindIndex(lines, l => l.StartsWith("method ", StringComparison.Ordinal));
        Assert.Contains("HR@20", lines[header]);
        Assert.Equal(lines[header].Length, lines[header + 1].Length);
        Assert.Equal(lines[header + 1].Length, lines[header + 2].Length);
        // CoNRec: HR 1/3, FHR 2/3, LUF 1, LIF 2/3, CandAcc 0.5, 20 SIDs at most (2 distinct predicted here: mean 4/3)
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(lines[header + 1], @"^CoNRec\s+0\.333\s+0\.667\s+1\.000\s+0\.667\s+0\.500\s+1\.3$"), table);
        // The filter table: at ≤ 5% liked nothing can be rejected (a liked item scores 1); no validation → n/a thresholds.
        int filter = Array.FindIndex(lines, header + 1, l => l.StartsWith("method ", StringComparison.Ordinal));
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(lines[filter + 1], @"^CoNRec\s+0\.000\s+n/a\s+n/a\s+n/a$"), table);
    }

    [Fact]
    public void Json_holds_rows_curves_intervals_and_extras()
    {
        var path = Path.Combine(_dir, "sub", "report.json");
        var report = Report();
        var split = EvaluatorTests.Split();
        var bootstrap = new Bootstrap(split.Cases, resamples: 50);
        report.Differences.Add(new PairedDifference("CoNRec", "Nothing", Metric.FHR, bootstrap.Difference(report.Rows[0].Result!, report.Rows[1].Result!, Metric.FHR)));
        report.WriteJson(path);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        Assert.Equal("tiny", root.GetProperty("title").GetString());
        var m0 = root.GetProperty("rows")[0];
        Assert.Equal("CoNRec", m0.GetProperty("method").GetString());
        Assert.Equal(2.0 / 3, m0.GetProperty("metrics").GetProperty("fhr").GetDouble(), 9);
        Assert.Equal(2, m0.GetProperty("metrics").GetProperty("luf_cases").GetInt32());
        var curve = m0.GetProperty("curve");
        Assert.Equal(5, curve.GetProperty("disliked").GetInt32());
        Assert.True(curve.GetProperty("points").GetArrayLength() >= 3);
        var d = root.GetProperty("differences")[0];
        Assert.Equal("fhr", d.GetProperty("metric").GetString());
        Assert.Equal(2.0 / 3, d.GetProperty("difference").GetProperty("estimate").GetDouble(), 9);
        Assert.Equal(1.5, root.GetProperty("extras").GetProperty("generate_seconds").GetDouble());
    }

    [Fact]
    public void Adding_a_method_twice_is_refused_by_name()
    {
        var report = Report();
        var e = Assert.Throws<ArgumentException>(() => report.Add(report.Rows[0].Result!));
        Assert.Contains("'CoNRec'", e.Message);
    }

    [Fact]
    public void Plots_are_valid_pngs()
    {
        var files = EvalPlots.Write(Report(), _dir, 640, 480);
        Assert.Equal([Path.Combine(_dir, "operating_curves.png"), Path.Combine(_dir, "operating_curves_low.png"), Path.Combine(_dir, "metrics.png")], files);
        byte[] signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        foreach (var f in files)
        {
            var bytes = File.ReadAllBytes(f);
            Assert.True(bytes.Length > 5_000, $"{f} is only {bytes.Length} bytes");
            Assert.Equal(signature, bytes[..8]);
            // IHDR width and height (big-endian) follow the signature and chunk header.
            Assert.Equal(640, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
            Assert.Equal(480, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        }
    }
}
