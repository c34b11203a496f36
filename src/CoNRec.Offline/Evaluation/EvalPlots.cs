using ScottPlot;

namespace CoNRec.Offline.Evaluation;

/// <summary>PNG plots of an <see cref="EvalReport"/> (ScottPlot 5, rendered by SkiaSharp; no display needed).</summary>
public static class EvalPlots
{
    public const string OperatingCurvesFile = "operating_curves.png";
    public const string MetricsFile = "metrics.png";

    /// <summary>Writes <see cref="OperatingCurvesFile"/> and <see cref="MetricsFile"/> into <paramref name="dir"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(EvalReport report, string dir, int width = 900, int height = 650)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentException.ThrowIfNullOrEmpty(dir);
        if (width < 100 || height < 100) throw new ArgumentOutOfRangeException(nameof(width), $"plot size {width}x{height} is below 100x100");
        Directory.CreateDirectory(dir);
        var curves = Path.Combine(dir, OperatingCurvesFile);
        var metrics = Path.Combine(dir, MetricsFile);
        OperatingCurves(report).SavePng(curves, width, height);
        Metrics(report).SavePng(metrics, width, height);
        return [curves, metrics];
    }

    private static Plot OperatingCurves(EvalReport report)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int n = 0;
        foreach (var (method, curve) in report.Curves)
        {
            if (curve.Points.Count == 0) continue;
            var xs = curve.Points.Select(p => p.LikedRejectRate).ToArray();
            var ys = curve.Points.Select(p => p.DislikedRejectRate).ToArray();
            var line = plt.Add.Scatter(xs, ys, palette.GetColor(n++));
            line.LegendText = method;
            line.MarkerSize = 0;
            line.LineWidth = 2;
        }
        if (report.CategoryRule is { } rule)
        {
            var marker = plt.Add.Marker(rule.LikedRejectRate, rule.DislikedRejectRate, MarkerShape.FilledDiamond, 14, Colors.Black);
            marker.LegendText = rule.Name;
        }
        var budget = plt.Add.VerticalLine(EvalReport.HeadlineLikedRate, 1, Colors.Gray);
        budget.LinePattern = LinePattern.Dashed;
        budget.LegendText = $"{EvalReport.HeadlineLikedRate:P0} liked rejected";
        plt.Title($"{report.Title}: operating curves");
        plt.XLabel("liked items rejected (rate)");
        plt.YLabel("disliked items rejected (rate)");
        plt.Axes.SetLimits(0, 1, 0, 1);
        plt.ShowLegend(Alignment.LowerRight);
        return plt;
    }

    private static Plot Metrics(EvalReport report)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        string[] names = [$"HR@{report.K}", $"FHR@{report.K}", $"LUF@{report.K}", $"LIF@{report.K}", "CandAcc"];
        int methods = Math.Max(1, report.Rows.Count);
        double barWidth = 0.8 / methods;
        var bars = new List<Bar>();
        for (int m = 0; m < report.Rows.Count; m++)
        {
            var row = report.Rows[m];
            double?[] values = [row.HR, row.FHR, row.LUF, row.LIF, row.CandidateAcc];
            var color = palette.GetColor(m);
            for (int k = 0; k < values.Length; k++)
            {
                // A metric without cases (null) draws no bar rather than a misleading zero.
                if (values[k] is not { } v) continue;
                bars.Add(new Bar { Position = k + (m - (methods - 1) / 2.0) * barWidth, Value = v, Size = barWidth * 0.95, FillColor = color });
            }
            plt.Legend.ManualItems.Add(new LegendItem { LabelText = row.Method, FillColor = color });
        }
        if (bars.Count > 0) plt.Add.Bars(bars);
        plt.Axes.Bottom.SetTicks(Enumerable.Range(0, names.Length).Select(i => (double)i).ToArray(), names);
        plt.Axes.Margins(bottom: 0);
        plt.Title($"{report.Title}: metrics");
        plt.YLabel("value");
        plt.ShowLegend(Alignment.UpperRight);
        return plt;
    }
}
