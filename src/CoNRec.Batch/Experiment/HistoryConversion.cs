using System.Text.Json;
using CoNRec.Model.Prompting;
using CoNRec.Offline.Data;

namespace CoNRec.Batch.Experiment;

/// <summary>Bridges the offline interaction format to the generator's history format (prompts and histories JSONL).</summary>
public static class HistoryConversion
{
    /// <summary>
    /// A user's history as the prompt builder reads it: negatives and positive feedback up to <paramref name="asOf"/>
    /// (inclusive). Neutral exposures (e.g. a MovieLens 3) are neither and stay out of the prompt.
    /// </summary>
    public static UserHistory ToUserHistory(string userId, IEnumerable<Interaction> interactions, DateTimeOffset? asOf = null)
    {
        var negatives = new List<HistoryEvent>();
        var positives = new List<HistoryEvent>();
        foreach (var x in interactions)
        {
            if (asOf is { } t && x.Timestamp > t) continue;
            if (x.IsNegative) negatives.Add(new HistoryEvent(x.ItemId, x.Timestamp, x.Reason));
            else if (x.IsPositive) positives.Add(new HistoryEvent(x.ItemId, x.Timestamp, KindName(x.Kind)));
        }
        return new UserHistory(userId, negatives, positives);
    }

    public static string KindName(FeedbackKind kind) => kind switch
    {
        FeedbackKind.Negative => "negative",
        FeedbackKind.Click => "click",
        FeedbackKind.Favorite => "favorite",
        FeedbackKind.Purchase => "purchase",
        _ => "rating",
    };

    /// <summary>Groups interactions by user, each user's list in time order (the input is already time-sorted).</summary>
    public static Dictionary<string, List<Interaction>> ByUser(IEnumerable<Interaction> interactions)
    {
        var byUser = new Dictionary<string, List<Interaction>>(StringComparer.Ordinal);
        foreach (var x in interactions)
        {
            if (!byUser.TryGetValue(x.UserId, out var list)) byUser[x.UserId] = list = [];
            list.Add(x);
        }
        return byUser;
    }

    /// <summary>Writes the generator's histories JSONL (ARCHITECTURE "User histories"), one line per user with any negative or positive.</summary>
    public static int WriteJsonl(string path, IEnumerable<Interaction> interactions)
    {
        int users = 0;
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream);
        var newline = "\n"u8.ToArray();
        foreach (var (user, list) in ByUser(interactions).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var h = ToUserHistory(user, list);
            if (h.Negatives.Count == 0 && h.Positives.Count == 0) continue;
            json.WriteStartObject();
            json.WriteString("user_id", user);
            json.WriteStartArray("negatives");
            foreach (var e in h.Negatives)
            {
                json.WriteStartObject();
                json.WriteString("item_id", e.ItemId);
                json.WriteString("ts", e.Timestamp);
                if (e.Kind is not null) json.WriteString("reason", e.Kind);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("positives");
            foreach (var e in h.Positives)
            {
                json.WriteStartObject();
                json.WriteString("item_id", e.ItemId);
                json.WriteString("ts", e.Timestamp);
                json.WriteString("type", e.Kind ?? "click");
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.Flush();
            stream.Write(newline);
            json.Reset();
            users++;
        }
        return users;
    }
}
