using System.Text;
using CoNRec.Core;
using Xunit;

namespace CoNRec.Core.Tests;

/// <summary>
/// The loader's fast path must never change what a line means: on valid lines and on thousands of mutated ones,
/// ParsePredictionLine (fast path first) and the full Utf8JsonReader parser give the same entry or the same error.
/// </summary>
public class CanonicalPredictionLineTests
{
    private static readonly SidLayout Layout = new(3, 64);

    private static string Line(Random rng)
    {
        string Sid() => $"[{rng.Next(64)},{rng.Next(64)},{rng.Next(64)}]";
        string Sids(int n) => "[" + string.Join(",", Enumerable.Range(0, n).Select(_ => Sid())) + "]";
        int n = rng.Next(0, 6);
        var parts = new List<string> { $"\"user_id\":\"u{rng.Next(1000)}\"", $"\"sids\":{Sids(n)}" };
        if (rng.Next(2) == 0) parts.Add("\"scores\":[" + string.Join(",", Enumerable.Range(0, n).Select(_ =>
            (rng.NextDouble() * 4 - 2).ToString(rng.Next(3) switch { 0 => "R", 1 => "F2", _ => "E3" }, System.Globalization.CultureInfo.InvariantCulture))) + "]");
        if (rng.Next(2) == 0) parts.Add($"\"recent_negatives\":{Sids(rng.Next(0, 4))}");
        if (rng.Next(3) == 0) parts.Add($"\"recent_positives\":{Sids(rng.Next(0, 4))}");
        if (rng.Next(5) == 0) parts.Add("\"extra\":{\"a\":[1,2]}");
        var shuffled = parts.OrderBy(_ => rng.Next()).ToList();
        return "{" + string.Join(",", shuffled) + "}";
    }

    private static byte[] Mutate(byte[] line, Random rng)
    {
        var b = line.ToList();
        byte[] interesting = "[]{},:\"\\ 0123456789-+.eE\t\u00e9nulltruefalse"u8.ToArray();
        int edits = rng.Next(1, 3);
        for (int e = 0; e < edits && b.Count > 0; e++)
        {
            int at = rng.Next(b.Count);
            switch (rng.Next(4))
            {
                case 0: b.RemoveAt(at); break;
                case 1: b.Insert(at, interesting[rng.Next(interesting.Length)]); break;
                case 2: b[at] = interesting[rng.Next(interesting.Length)]; break;
                default: b[at] = (byte)rng.Next(256); break;
            }
        }
        return [.. b];
    }

    private static string Outcome(Func<PredictionEntry> parse)
    {
        try
        {
            var e = parse();
            return $"{e.UserId}|{string.Join(",", e.Sids)}|{(e.Scores is null ? "null" : string.Join(",", e.Scores.Select(BitConverter.SingleToInt32Bits)))}|" +
                   $"{string.Join(",", e.RecentNegatives)}|{string.Join(",", e.RecentPositives)}";
        }
        catch (InputFormatException x) { return "error: " + x.Message; }
    }

    [Fact]
    public void Fast_and_full_parsers_agree_on_valid_and_mutated_lines()
    {
        var rng = new Random(12345);
        int fastTaken = 0, mutatedFast = 0, errors = 0;
        Span<ulong> buffer = new ulong[SidSetCodec.MaxCount];
        for (int k = 0; k < 20_000; k++)
        {
            var valid = Encoding.UTF8.GetBytes(Line(rng));
            var bytes = k % 4 == 0 ? valid : Mutate(valid, rng);
            var viaLoader = Outcome(() => JsonlInput.ParsePredictionLine(bytes, Layout, "f", 3));
            var full = Outcome(() => JsonlInput.ParsePredictionLineFull(bytes, Layout, "f", 3));
            Assert.True(viaLoader == full, $"line {Encoding.UTF8.GetString(bytes)}\n fast-first: {viaLoader}\n full:       {full}");
            if (CanonicalPredictionLine.TryParse(bytes, Layout, buffer, out _))
            {
                fastTaken++;
                if (k % 4 != 0) mutatedFast++;
                Assert.DoesNotContain("error", full); // the fast path accepted only what the full parser accepts
            }
            if (full.StartsWith("error", StringComparison.Ordinal)) errors++;
        }
        // Not vacuous: the fast path handled most valid lines, some mutated ones, and mutations produced many errors.
        Assert.True(fastTaken > 3000, $"fast path took {fastTaken}");
        Assert.True(mutatedFast > 100, $"fast path took {mutatedFast} mutated lines");
        Assert.True(errors > 5000, $"errors {errors}");
    }

    [Theory]
    [InlineData("{\"user_id\":\"u1\",\"sids\":[[1,2,3]]}", true)]
    [InlineData("{\"user_id\":\"u1\",\"sids\":[[1,2,3]],\"scores\":[-0.5]}", true)]
    [InlineData("{\"user_id\":\"u1\", \"sids\":[[1,2,3]]}", false)]          // whitespace
    [InlineData("{\"user_id\":\"u\\u0031\",\"sids\":[[1,2,3]]}", false)]     // an escape
    [InlineData("{\"user_id\":\"u1\",\"sids\":[[1,2,3]],\"sids\":[]}", false)] // repeated field: the full parser's rule
    [InlineData("{\"user_id\":\"u1\",\"sids\":[[01,2,3]]}", false)]           // leading zero is not JSON
    [InlineData("{\"user_id\":\"u1\",\"sids\":[[1,2,64]]}", false)]           // out of range: the full parser names it
    [InlineData("{\"user_id\":\"u1\",\"sids\":[[1,2,3]],\"scores\":[1e39]}", false)] // not finite as a float
    public void The_fast_path_takes_only_the_compact_form(string json, bool taken)
    {
        Span<ulong> buffer = new ulong[SidSetCodec.MaxCount];
        Assert.Equal(taken, CanonicalPredictionLine.TryParse(Encoding.UTF8.GetBytes(json), Layout, buffer, out _));
    }
}
