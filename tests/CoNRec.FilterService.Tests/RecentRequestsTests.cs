using CoNRec.Core;
using Xunit;

namespace CoNRec.FilterService.Tests;

/// <summary>The health view's in-process window and the server's sample-file parser, on hand-computed cases.</summary>
public sealed class RecentRequestsTests
{
    private static int[] Reasons(params (DecisionReason Reason, bool Rejected, int Count)[] counts)
    {
        var a = new int[12];
        foreach (var (reason, rejected, count) in counts) a[((int)reason * 2) + (rejected ? 1 : 0)] += count;
        return a;
    }

    [Fact]
    public void The_window_sums_complete_seconds_only_and_forgets_old_ones()
    {
        long now = 100;
        var recent = new RecentRequests(() => now);
        for (int i = 0; i < 50; i++) recent.Record("home", 0.001, 4, 1, Reasons((DecisionReason.Scored, false, 3), (DecisionReason.Scored, true, 1)));
        Assert.Equal(0, recent.Summarize().Calls); // second 100 is still being written

        now = 101;
        recent.Record("feed", 0.002, 2, 0, Reasons((DecisionReason.UnknownItem, false, 2)));
        var s = recent.Summarize(); // sees second 100 only
        Assert.Equal(50, s.Calls);
        Assert.Equal(5.0, s.RequestsPerS);
        Assert.Equal(0.25, s.RejectRatioByScene["home"]);
        Assert.False(s.RejectRatioByScene.ContainsKey("feed"));
        Assert.Equal(0, s.FailOpenByReason["unknown_item"]);

        now = 102;
        s = recent.Summarize();
        Assert.Equal(51, s.Calls);
        Assert.Equal(0.0, s.RejectRatioByScene["feed"]);
        Assert.Equal(2.0 / RecentRequests.WindowSeconds, s.FailOpenByReason["unknown_item"]);

        now = 100 + RecentRequests.WindowSeconds + 1; // second 100 has left the window
        Assert.Equal(1, recent.Summarize().Calls);
        now += 50; // and a bucket reused for a later second starts from zero
        recent.Record("home", 0.001, 1, 1, Reasons((DecisionReason.Scored, true, 1)));
        now++;
        s = recent.Summarize();
        Assert.Equal(1, s.Calls);
        Assert.Equal(1.0, s.RejectRatioByScene["home"]);
    }

    [Fact]
    public void P99_is_the_upper_bound_of_the_bin_holding_the_99th_percentile()
    {
        long now = 10;
        var recent = new RecentRequests(() => now);
        for (int i = 0; i < 990; i++) recent.Record("s", 0.0005, 1, 0, Reasons((DecisionReason.Scored, false, 1)));
        for (int i = 0; i < 10; i++) recent.Record("s", 0.2, 1, 0, Reasons((DecisionReason.Scored, false, 1)));
        now = 11;
        var p99 = recent.Summarize().P99Ms!.Value;
        // 0.5 ms lies in its bin's (upper / 1.26, upper]: the 99th percentile is the 990th call, one of the fast ones.
        Assert.InRange(p99, 0.5, 0.5 * 1.26);
        for (int i = 0; i < 20; i++) recent.Record("s", 0.2, 1, 0, Reasons((DecisionReason.Scored, false, 1)));
        now = 12;
        Assert.InRange(recent.Summarize().P99Ms!.Value, 200, 200 * 1.26);
        Assert.Null(new RecentRequests(() => 5).Summarize().P99Ms);
    }

    [Fact]
    public void Latency_bins_are_monotonic_and_bounded()
    {
        Assert.Equal(0, RecentRequests.LatencyBin(0));
        Assert.Equal(0, RecentRequests.LatencyBin(double.NaN));
        Assert.Equal(63, RecentRequests.LatencyBin(1e6));
        int previous = 0;
        for (double t = 1e-6; t < 100; t *= 1.1)
        {
            int bin = RecentRequests.LatencyBin(t);
            Assert.True(bin >= previous);
            Assert.True(bin == 63 || t <= RecentRequests.BinUpperBound(bin) * (1 + 1e-12), $"{t} above bin {bin}");
            previous = bin;
        }
    }

    [Fact]
    public void Scenes_past_the_cap_are_summed_under_other()
    {
        long now = 1;
        var recent = new RecentRequests(() => now);
        for (int i = 0; i < RecentRequests.MaxScenes + 20; i++) recent.Record("scene" + i, 0.001, 2, i % 2 == 0 ? 2 : 0, Reasons((DecisionReason.Scored, false, 2)));
        now = 2;
        var ratios = recent.Summarize().RejectRatioByScene;
        Assert.Equal(RecentRequests.MaxScenes, ratios.Count);
        Assert.Equal(1.0, ratios["scene0"]);
        Assert.Equal(0.0, ratios["scene1"]);
        Assert.True(ratios.ContainsKey(RecentRequests.OtherScene));
        Assert.False(ratios.ContainsKey("scene" + (RecentRequests.MaxScenes + 5)));
    }

    [Fact]
    public void Recording_does_not_allocate_once_a_scene_is_known()
    {
        var recent = new RecentRequests();
        var reasons = Reasons((DecisionReason.Scored, true, 3), (DecisionReason.NoPredictions, false, 1));
        for (int i = 0; i < 1000; i++) recent.Record("home", 0.001, 4, 3, reasons); // JIT, first scene, first bucket
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) recent.Record("home", 0.001 * (i % 7), 4, 3, reasons);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Server_CSV_and_JSONL_parsing_follows_the_tune_rules()
    {
        var layout = new SidLayout(3, 32);
        var (samples, error) = SampleFiles.ParseCsv("Disliked,USER_ID,item_id,sid,note\r\ntrue,\"u,1\",i1,1 2 3,x\r\n0,u2,\"i \"\"2\"\"\",,\r\n\r\nFALSE,u3,i3,4|5;6,\n", layout, 256);
        Assert.Null(error);
        Assert.Equal(3, samples.Count);
        Assert.Equal(("u,1", "i1", true), (samples[0].UserId, samples[0].ItemId, samples[0].Disliked));
        Assert.Equal([1u, 2u, 3u], samples[0].Sid!);
        Assert.Equal(("i \"2\"", (uint[]?)null, false), (samples[1].ItemId, samples[1].Sid, samples[1].Disliked));
        Assert.Equal([4u, 5u, 6u], samples[2].Sid!);

        foreach (var (text, message) in new[]
        {
            ("user_id,item_id,disliked\nu1,i1,yes\n", "line 2: 'disliked' = 'yes' must be true, false, 1 or 0"),
            ("user_id,item_id,disliked\nu1,,true\n", "line 2: 'item_id' is required"),
            ("user_id,item_id,disliked\nu1,i1\n", "line 2: has 2 fields; the header has 3"),
            ("user_id,item_id,sid,disliked\nu1,i1,1 2,true\n", "line 2: 'sid' has 2 codes; expected 3"),
            ("user_id,item_id,sid,disliked\nu1,i1,1 x 2,true\n", "line 2: 'sid[1]' = 'x' must be a non-negative integer"),
            ("user_id,item_id,disliked\n\"u1,i1,true\n", "line 2: a quoted field is not closed"),
            ("user_id,item_id,disliked\nu\"1,i1,true\n", "line 2: a quote inside an unquoted field"),
            ("user_id,item_id,disliked\n" + new string('u', 300) + ",i1,true\n", "line 2: 'user_id' is longer than 256 bytes"),
        })
        {
            var (_, e) = SampleFiles.ParseCsv(text, layout, 256);
            Assert.NotNull(e);
            Assert.Contains(message, e);
        }

        var (jsonl, jsonlError) = SampleFiles.ParseJsonl("{\"user_id\":\"u1\",\"item_id\":\"i1\",\"sid\":[1,2,3],\"disliked\":true}\r\n\n{\"user_id\":\"u2\",\"item_id\":\"i2\",\"disliked\":false}", layout, 256);
        Assert.Null(jsonlError);
        Assert.Equal(2, jsonl.Count);
        Assert.Contains("line 2: not valid JSON", SampleFiles.ParseJsonl("{\"user_id\":\"u1\",\"item_id\":\"i1\",\"disliked\":true}\n{oops", layout, 256).Error);
        Assert.Contains("line 1: must be a JSON object", SampleFiles.ParseJsonl("[1]", layout, 256).Error);
        Assert.Contains("line 1: 'sid[0]' = 40 is out of range", SampleFiles.ParseJsonl("{\"user_id\":\"u\",\"item_id\":\"i\",\"sid\":[40,1,1],\"disliked\":true}", layout, 256).Error);
    }
}
