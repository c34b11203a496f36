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
        var report = new EvalReport { Title = "tiny" };
        report.Add(ev.Evaluate("CoNRec", split, c => Main[c.UserId]));
        report.Add(ev.Evaluate("Nothing", split, _ => []));
        report.CategoryRule = new RulePoint("category rule", 0.5, 0.25, 2.0 / 3, 4, 4);
        report.Extras["generate_seconds"] = 1.5;
        return report;
    }

    [Fact]
    public void Table_is_aligned_and_carries_the_hand_computed_numbers()
    {
        var table = Report().FormatTable();
        var lines = table.TrimEnd('\n').Split('\n');
        Assert.Equal(4, lines.Length);   // header, two methods, category rule
        Assert.Equal(lines[0].Length, lines[1].Length);
        Assert.Equal(lines[1].Length, lines[2].Length);
        Assert.StartsWith("method ", lines[0]);
        Assert.Contains("HR@20", lines[0]);
        // CoNRec: HR 1/3, FHR 2/3, LUF 1, LIF 2/3, CandAcc 0.5, 3 cases, 2 LUF, 3 LIF cases
        Assert.Matches(@"^CoNRec\s+0\.3333\s+0\.6667\s+1\.0000\s+0\.6667\s+0\.5000\s+3\s+2\s+3\s", lines[1]);
        // At ≤ 5% liked nothing can be rejected (a liked item scores 1): 0 disliked at t = 1
        Assert.EndsWith("0.0000 (t=1.00)", lines[1]);
        Assert.Contains("category rule: rejects 0.5000 of 4 disliked and 0.2500 of 4 liked (precision 0.6667)", lines[3]);
    }

    [Fact]
    public void Json_holds_metrics_curves_rule_and_extras()
    {
        var path = Path.Combine(_dir, "sub", "report.json");
        Report().WriteJson(path);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        Assert.Equal("tiny", root.GetProperty("title").GetString());
        var m0 = root.GetProperty("metrics")[0];
        Assert.Equal("CoNRec", m0.GetProperty("method").GetString());
        Assert.Equal(2.0 / 3, m0.GetProperty("fhr").GetDouble(), 9);
        Assert.Equal(2, m0.GetProperty("luf_cases").GetInt32());
        var curve = root.GetProperty("curves").GetProperty("CoNRec");
        Assert.Equal(5, curve.GetProperty("disliked").GetInt32());
        Assert.True(curve.GetProperty("points").GetArrayLength() >= 201);
        Assert.Equal(0.5, root.GetProperty("category_rule").GetProperty("disliked_reject_rate").GetDouble());
        Assert.Equal(1.5, root.GetProperty("extras").GetProperty("generate_seconds").GetDouble());
    }

    [Fact]
    public void Adding_a_method_twice_is_refused_by_name()
    {
        var report = Report();
        var e = Assert.Throws<ArgumentException>(() => report.Add(new MethodResult(report.Rows[0], report.Curves["CoNRec"])));
        Assert.Contains("'CoNRec'", e.Message);
    }

    [Fact]
    public void Plots_are_valid_pngs()
    {
        var files = EvalPlots.Write(Report(), _dir, 640, 480);
        Assert.Equal([Path.Combine(_dir, "operating_curves.png"), Path.Combine(_dir, "metrics.png")], files);
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
