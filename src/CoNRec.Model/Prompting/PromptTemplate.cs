using System.Globalization;
using System.Text.Json;

namespace CoNRec.Model.Prompting;

/// <summary>
/// How a user's history becomes a prompt. The text must match the one used in fine-tuning, so it comes from
/// the bundle manifest's "prompt" object (<see cref="FromJson"/>); defaults follow LC-Rec's chat style.
/// Placeholders are <c>{name}</c> (ASCII letters, digits, '_'); any other brace is literal text.
/// </summary>
public sealed record PromptTemplate
{
    public const string DefaultText =
        "<|im_start|>user\nThe user disliked: {negatives}.{positives_clause} Predict items the user will dislike.<|im_end|>\n<|im_start|>assistant\n";

    public const string DefaultPositivesClause = " The user liked: {positives}.";

    public const string NegativesPlaceholder = "negatives";
    public const string PositivesClausePlaceholder = "positives_clause";
    public const string PositivesPlaceholder = "positives";

    /// <summary>Sanity bounds: far above any prompt a 0.5–8B model is fine-tuned on.</summary>
    public const int MaxTokensLimit = 1 << 20;
    public const int MaxEventsLimit = 100_000;

    /// <summary>Template with <c>{negatives}</c> (once) and optionally <c>{positives_clause}</c> (at most once).</summary>
    public string Text { get; init; } = DefaultText;

    /// <summary>Replaces <c>{positives_clause}</c> when positives are in the prompt; must contain <c>{positives}</c>.</summary>
    public string PositivesClause { get; init; } = DefaultPositivesClause;

    /// <summary>Between two rendered SIDs.</summary>
    public string Separator { get; init; } = ", ";

    public PromptContext Context { get; init; } = PromptContext.AllNegatives;

    /// <summary>Window of <see cref="PromptContext.RecentNegatives"/>, ending at the reference time.</summary>
    public double RecentDays { get; init; } = 3;

    public int MaxNegatives { get; init; } = 50;

    public int MaxPositives { get; init; } = 50;

    /// <summary>Longest prompt in tokens; older events are dropped until it fits.</summary>
    public int MaxTokens { get; init; } = 512;

    /// <summary>Null when usable; otherwise a message naming the manifest field (<c>prompt.*</c>).</summary>
    public string? Validate()
    {
        if (string.IsNullOrEmpty(Text)) return "'prompt.template' is empty";
        var names = Placeholders(Text);
        foreach (var name in names)
        {
            if (name != NegativesPlaceholder && name != PositivesClausePlaceholder)
                return $"'prompt.template' has unknown placeholder {{{name}}}; allowed: {{{NegativesPlaceholder}}}, {{{PositivesClausePlaceholder}}}";
        }
        int negatives = names.Count(n => n == NegativesPlaceholder);
        if (negatives != 1) return $"'prompt.template' must contain {{{NegativesPlaceholder}}} exactly once (found {negatives})";
        int clauses = names.Count(n => n == PositivesClausePlaceholder);
        if (clauses > 1) return $"'prompt.template' must contain {{{PositivesClausePlaceholder}}} at most once (found {clauses})";
        if (Context == PromptContext.NegativesAndPositives && clauses == 0)
            return $"'prompt.template' lacks {{{PositivesClausePlaceholder}}}, which context \"negatives_and_positives\" needs";

        if (PositivesClause is null) return "'prompt.positives_clause' is null";
        var clauseNames = Placeholders(PositivesClause);
        foreach (var name in clauseNames)
        {
            if (name != PositivesPlaceholder)
                return $"'prompt.positives_clause' has unknown placeholder {{{name}}}; allowed: {{{PositivesPlaceholder}}}";
        }
        if (clauseNames.Count != 1) return $"'prompt.positives_clause' must contain {{{PositivesPlaceholder}}} exactly once (found {clauseNames.Count})";

        if (Separator is null) return "'prompt.separator' is null";
        if (!Enum.IsDefined(Context)) return $"'prompt.context' = {(int)Context} is not a known context";
        if (!double.IsFinite(RecentDays) || RecentDays <= 0 || RecentDays > 36_500)
            return $"'prompt.recent_days' = {RecentDays.ToString(CultureInfo.InvariantCulture)} must be in (0, 36500]";
        if (MaxNegatives < 1 || MaxNegatives > MaxEventsLimit) return $"'prompt.max_negatives' = {MaxNegatives} must be in [1, {MaxEventsLimit}]";
        if (MaxPositives < 0 || MaxPositives > MaxEventsLimit) return $"'prompt.max_positives' = {MaxPositives} must be in [0, {MaxEventsLimit}]";
        if (MaxTokens < 1 || MaxTokens > MaxTokensLimit) return $"'prompt.max_tokens' = {MaxTokens} must be in [1, {MaxTokensLimit}]";
        return null;
    }

    /// <summary>
    /// Reads the manifest's "prompt" object; absent fields keep their defaults, unknown fields are errors (a typo
    /// must not silently fall back to a default that differs from fine-tuning). Throws <see cref="FormatException"/>.
    /// </summary>
    public static PromptTemplate FromJson(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object) throw new FormatException($"'prompt' must be a JSON object, not {json.ValueKind}");
        var t = new PromptTemplate();
        foreach (var p in json.EnumerateObject())
        {
            string field = "prompt." + p.Name;
            t = p.Name switch
            {
                "template" => t with { Text = ReadString(p.Value, field) },
                "positives_clause" => t with { PositivesClause = ReadString(p.Value, field) },
                "separator" => t with { Separator = ReadString(p.Value, field) },
                "context" => t with { Context = ParseContext(ReadString(p.Value, field)) },
                "recent_days" => t with { RecentDays = ReadNumber(p.Value, field) },
                "max_negatives" => t with { MaxNegatives = ReadInt(p.Value, field) },
                "max_positives" => t with { MaxPositives = ReadInt(p.Value, field) },
                "max_tokens" => t with { MaxTokens = ReadInt(p.Value, field) },
                _ => throw new FormatException($"'{field}' is not a known field; known: template, positives_clause, separator, context, recent_days, max_negatives, max_positives, max_tokens"),
            };
        }
        var error = t.Validate();
        if (error is not null) throw new FormatException(error);
        return t;
    }

    public static PromptContext ParseContext(string name) => name switch
    {
        "recent_negatives" => PromptContext.RecentNegatives,
        "all_negatives" => PromptContext.AllNegatives,
        "negatives_and_positives" => PromptContext.NegativesAndPositives,
        _ => throw new FormatException($"'prompt.context' = \"{name}\" is not a known context; use recent_negatives, all_negatives or negatives_and_positives"),
    };

    public static string ContextName(PromptContext context) => context switch
    {
        PromptContext.RecentNegatives => "recent_negatives",
        PromptContext.AllNegatives => "all_negatives",
        PromptContext.NegativesAndPositives => "negatives_and_positives",
        _ => throw new ArgumentOutOfRangeException(nameof(context), context, "unknown context"),
    };

    /// <summary>Splits a template into literal text and placeholder names, in order.</summary>
    internal static List<(bool IsPlaceholder, string Value)> Parse(string text)
    {
        var parts = new List<(bool, string)>();
        int literalStart = 0, i = 0;
        while (i < text.Length)
        {
            int end = text[i] == '{' ? PlaceholderEnd(text, i) : -1;
            if (end < 0) { i++; continue; }
            if (i > literalStart) parts.Add((false, text[literalStart..i]));
            parts.Add((true, text[(i + 1)..end]));
            i = literalStart = end + 1;
        }
        if (literalStart < text.Length) parts.Add((false, text[literalStart..]));
        return parts;
    }

    // Index of the '}' closing a {name} placeholder that starts at 'open', or -1 when it is literal text.
    private static int PlaceholderEnd(string text, int open)
    {
        int j = open + 1;
        while (j < text.Length && (char.IsAsciiLetterOrDigit(text[j]) || text[j] == '_')) j++;
        return j > open + 1 && j < text.Length && text[j] == '}' ? j : -1;
    }

    private static List<string> Placeholders(string text) => Parse(text).Where(p => p.IsPlaceholder).Select(p => p.Value).ToList();

    private static string ReadString(JsonElement v, string field) =>
        v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new FormatException($"'{field}' must be a string, not {v.ValueKind}");

    private static int ReadInt(JsonElement v, string field) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw new FormatException($"'{field}' must be an integer, not {v.GetRawText()}");

    private static double ReadNumber(JsonElement v, string field) =>
        v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw new FormatException($"'{field}' must be a number, not {v.GetRawText()}");
}
