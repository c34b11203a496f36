using ScottPlot;

namespace CoNRec.Offline.Evaluation;

/// <summary>The fine-tuning loss curves as a PNG: one line per progressive-context stage over global steps.</summary>
public static class LossPlot
{
    public const string File = "training_loss.png";

    /// <param name="stages">(stage name, per-step training loss, validation loss at the stage's end) in schedule order.</param>
    /// <param name="grpo">optional GRPO steps after SFT: (stage name, mean rollout reward per step), drawn on the right axis.</param>
    public static string Write(IReadOnlyList<(string Name, IReadOnlyList<double> StepLosses, double? ValidationLoss)> stages, string dir, int width = 900, int height = 500,
        IReadOnlyList<(string Name, IReadOnlyList<double> Rewards)>? grpo = null)
    {
        ArgumentNullException.ThrowIfNull(stages);
        Directory.CreateDirectory(dir);
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int offset = 0, n = 0;
        foreach (var (name, losses, validation) in stages)
        {
            if (losses.Count == 0) continue;
            var color = palette.GetColor(n++);
            var xs = Enumerable.Range(offset, losses.Count).Select(i => (double)i).ToArray();
            var line = plt.Add.Scatter(xs, losses.ToArray(), color);
            line.LegendText = name;
            line.MarkerSize = 0;
            offset += losses.Count;
            if (validation is { } v)
            {
                var m = plt.Add.Marker(offset - 1, v, MarkerShape.FilledCircle, 10, color);
                m.LegendText = $"{name} validation";
            }
        }
        if (grpo is { Count: > 0 })
        {
            // GRPO continues the step axis; its reward (higher is better) gets the right axis.
            var right = plt.Axes.Right;
            foreach (var (name, rewards) in grpo)
            {
                if (rewards.Count == 0) continue;
                var xs = Enumerable.Range(offset, rewards.Count).Select(i => (double)i).ToArray();
                var line = plt.Add.Scatter(xs, rewards.ToArray(), palette.GetColor(n++));
                line.Axes.YAxis = right;
                line.LegendText = $"GRPO {name}: mean reward";
                line.MarkerSize = 0;
                offset += rewards.Count;
            }
            right.Label.Text = "GRPO reward (Eq. 6)";
        }
        plt.Title(grpo is { Count: > 0 } ? "SFT cross-entropy, then GRPO reward, per step" : "fine-tuning: answer-token cross-entropy per step");
        plt.XLabel("optimizer step");
        plt.YLabel("loss");
        plt.ShowLegend(Alignment.UpperRight);
        var path = Path.Combine(dir, File);
        plt.SavePng(path, width, height);
        return path;
    }
}
