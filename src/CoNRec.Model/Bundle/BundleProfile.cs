using System.Text.Json;
using System.Text.Json.Nodes;
using CoNRec.Core;

namespace CoNRec.Model.Bundle;

/// <summary>Sets the <c>profile</c> section of a bundle's manifest: how many recent negatives and positives <c>generate</c> stores per user.</summary>
public static class BundleProfile
{
    public static void Write(string bundleDir, int recentNegatives, int recentPositives)
    {
        if (recentNegatives is < 0 or > SidSetCodec.MaxCount) throw new ArgumentOutOfRangeException(nameof(recentNegatives), recentNegatives, $"must be in [0, {SidSetCodec.MaxCount}]");
        if (recentPositives is < 0 or > SidSetCodec.MaxCount) throw new ArgumentOutOfRangeException(nameof(recentPositives), recentPositives, $"must be in [0, {SidSetCodec.MaxCount}]");
        string path = Path.Combine(bundleDir, ModelBundle.ManifestFile);
        var root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new BundleFormatException($"{path}: expected a JSON object");
        root["profile"] = new JsonObject { ["recent_negatives"] = recentNegatives, ["recent_positives"] = recentPositives };
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
