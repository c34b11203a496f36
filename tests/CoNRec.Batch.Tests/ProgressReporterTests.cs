using CoNRec.Batch.Progress;
using Xunit;

namespace CoNRec.Batch.Tests;

public sealed class ProgressReporterTests
{
    private static string LastFrame(string output) => output[(output.LastIndexOf('\r') + 1)..].TrimEnd();

    [Fact]
    public void Terminal_mode_redraws_one_line_with_bar_rate_and_eta_at_most_four_times_a_second()
    {
        var time = new FakeTime();
        var output = new StringWriter();
        var progress = new ProgressReporter(1000, output, new ProgressOptions { IsTerminal = true, Time = time });

        for (int i = 0; i < 8; i++)
        {
            progress.Advance(25);
            time.Advance(TimeSpan.FromMilliseconds(250)); // a steady 100 users/s
        }
        var text = output.ToString();
        Assert.DoesNotContain('\n', text); // one line, redrawn in place
        Assert.Equal(8, text.Count(c => c == '\r'));
        Assert.Equal("generate [####--------------------] 200/1,000 users 20.0% 100 users/s eta 8s", LastFrame(text));

        for (int i = 0; i < 1000; i++) progress.Advance(); // no time passes: no redraw
        Assert.Equal(8, output.ToString().Count(c => c == '\r'));
        time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Contains("1,200/1,000 users 100.0%", LastFrame(output.ToString()));
        Assert.Contains("[########################]", LastFrame(output.ToString()));

        progress.Complete();
        var lines = output.ToString().Split('\n');
        Assert.Equal("generate: done, 1,200/1,000 users in 2s (533 users/s)", lines[^2]);
        Assert.Equal("", lines[^1]);
    }

    [Fact]
    public void Non_terminal_mode_prints_a_plain_line_every_interval_even_when_stalled()
    {
        var time = new FakeTime();
        var output = new StringWriter();
        var progress = new ProgressReporter(100_000, output, new ProgressOptions { IsTerminal = false, Time = time });

        for (int i = 0; i < 25; i++)
        {
            progress.Advance(410);
            time.Advance(TimeSpan.FromSeconds(1));
        }
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
        [
            "generate: 4,100/100,000 users (4.1%) 410 users/s, eta 3m54s",
            "generate: 8,200/100,000 users (8.2%) 410 users/s, eta 3m44s",
        ], lines);
        Assert.DoesNotContain('\r', output.ToString());

        time.Advance(TimeSpan.FromSeconds(10)); // nothing advances, but the log still says where it stands
        lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("generate: 10,250/100,000 users (10.3%) ", lines[2]);

        progress.Complete();
        progress.Complete(); // idempotent
        lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("generate: done, 10,250/100,000 users in 35s (293 users/s)", lines[^1]);
        Assert.Equal(4, lines.Length);
        time.Advance(TimeSpan.FromSeconds(60)); // the timer is gone after Complete
        Assert.Equal(4, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Unknown_total_shows_count_and_rate_without_eta()
    {
        var time = new FakeTime();
        var output = new StringWriter();
        var progress = new ProgressReporter(null, output, new ProgressOptions { IsTerminal = false, Time = time, Unit = "rows", Label = "load" });
        progress.Advance(50);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal("load: 50 rows 5 rows/s", output.ToString().Trim());
        Assert.Null(progress.Fraction);
    }

    [Fact]
    public void Advance_is_thread_safe()
    {
        var time = new FakeTime();
        var progress = new ProgressReporter(80_000, new StringWriter(), new ProgressOptions { IsTerminal = true, Time = time });
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 10_000; i++) progress.Advance();
        });
        Assert.Equal(80_000, progress.Count);
        Assert.Equal(1.0, progress.Fraction);
    }

    [Theory]
    [InlineData(45, "45s")]
    [InlineData(214, "3m34s")]
    [InlineData(3720, "1h02m")]
    [InlineData(183600, "2d03h")]
    public void Durations_use_two_units(int seconds, string expected) =>
        Assert.Equal(expected, ProgressReporter.Duration(TimeSpan.FromSeconds(seconds)));
}
