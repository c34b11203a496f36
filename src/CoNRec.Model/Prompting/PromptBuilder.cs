using System.Text;
using CoNRec.Core;
using CoNRec.Model.Tokenization;

namespace CoNRec.Model.Prompting;

/// <summary>
/// Renders a user's history as a prompt of SID tokens. Keeps the most recent events (by timestamp; ties keep
/// input order), writes them oldest first, and drops the oldest (positives first) until the prompt fits
/// <see cref="PromptTemplate.MaxTokens"/>. The token count is always that of the actual encoding.
/// </summary>
public sealed class PromptBuilder
{
    private readonly PromptTemplate _template;
    private readonly List<(bool IsPlaceholder, string Value)> _parts;
    private readonly List<(bool IsPlaceholder, string Value)> _clauseParts;
    private readonly SidTokenMap _sids;
    private readonly HfTokenizer _tokenizer;
    private readonly Func<string, string?> _render;
    private readonly int _itemTokens;

    /// <param name="catalog">Item id → SID codes (one per level), or null for an item not in the catalog.</param>
    public PromptBuilder(PromptTemplate template, SidTokenMap sids, HfTokenizer tokenizer, Func<string, uint[]?> catalog)
        : this(template, sids, tokenizer)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        _render = itemId => catalog(itemId) is { } codes ? RenderChecked(itemId, () => sids.Render(codes)) : null;
    }

    /// <param name="catalog">Item id → SID packed with <paramref name="layout"/>, which must be the SID map's layout.</param>
    public PromptBuilder(PromptTemplate template, SidTokenMap sids, HfTokenizer tokenizer, IReadOnlyDictionary<string, ulong> catalog, SidLayout layout)
        : this(template, sids, tokenizer)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        if (layout != sids.Layout)
            throw new ArgumentException($"catalog layout {layout.Levels}x{layout.CodesPerLevel} differs from the SID tokens' {sids.Levels}x{sids.CodesPerLevel}", nameof(layout));
        _render = itemId => catalog.TryGetValue(itemId, out ulong packed) ? RenderChecked(itemId, () => sids.Render(packed)) : null;
    }

    private PromptBuilder(PromptTemplate template, SidTokenMap sids, HfTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(sids);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var error = template.Validate();
        if (error is not null) throw new ArgumentException(error, nameof(template));
        _template = template;
        _parts = PromptTemplate.Parse(template.Text);
        _clauseParts = PromptTemplate.Parse(template.PositivesClause);
        _sids = sids;
        _tokenizer = tokenizer;
        _render = _ => null;
        // SID tokens are added tokens, so text between them is encoded on its own: each extra item costs exactly
        // its L tokens plus one separator, which makes the first truncation guess exact.
        _itemTokens = sids.Levels + (template.Separator.Length == 0 ? 0 : tokenizer.CountTokens(template.Separator));
    }

    public PromptTemplate Template => _template;

    /// <param name="asOf">Reference time; events after it are ignored. Default: the newest event of the history.</param>
    public PromptResult Build(UserHistory history, DateTimeOffset? asOf = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        DateTimeOffset? reference = asOf ?? Newest(history);
        if (reference is null) return EmptyResult(0, 0, null, "history has no events");
        DateTimeOffset refTime = reference.Value;

        DateTimeOffset from = _template.Context == PromptContext.RecentNegatives
            ? refTime - TimeSpan.FromDays(_template.RecentDays)
            : DateTimeOffset.MinValue;
        int skipped = 0;
        var negatives = Select(history.Negatives, from, refTime, _template.MaxNegatives, ref skipped);
        var positives = _template.Context == PromptContext.NegativesAndPositives && _template.MaxPositives > 0
            ? Select(history.Positives, DateTimeOffset.MinValue, refTime, _template.MaxPositives, ref skipped)
            : [];

        bool needNegative = _template.Context != PromptContext.NegativesAndPositives;
        if (negatives.Count == 0 && (needNegative || positives.Count == 0))
            return EmptyResult(skipped, 0, refTime, $"no known {(needNegative ? "negatives" : "events")} in context {PromptTemplate.ContextName(_template.Context)}");

        // Keep the newest n negatives and p positives; shrink from the oldest until the encoding fits.
        int n = negatives.Count, p = positives.Count;
        while (true)
        {
            string text = Compose(negatives, n, positives, p);
            var ids = _tokenizer.Encode(text);
            if (ids.Count <= _template.MaxTokens)
                return new PromptResult(text, ids, n, p, skipped, negatives.Count - n + positives.Count - p, refTime, null);

            int drop = Math.Max(1, (ids.Count - _template.MaxTokens + _itemTokens - 1) / _itemTokens);
            if (p > 0) p -= Math.Min(p, drop);
            else if (n > 0) n -= Math.Min(n, drop);

            if (n == 0 && (needNegative || p == 0))
                return EmptyResult(skipped, negatives.Count + positives.Count, refTime, $"the template alone does not fit max_tokens = {_template.MaxTokens}");
        }
    }

    private static DateTimeOffset? Newest(UserHistory h)
    {
        DateTimeOffset? newest = null;
        foreach (var e in h.Negatives) if (newest is null || e.Timestamp > newest) newest = e.Timestamp;
        foreach (var e in h.Positives) if (newest is null || e.Timestamp > newest) newest = e.Timestamp;
        return newest;
    }

    /// <summary>The newest known events in [from, to], at most <paramref name="max"/>, returned oldest first.</summary>
    private List<string> Select(IReadOnlyList<HistoryEvent> events, DateTimeOffset from, DateTimeOffset to, int max, ref int skipped)
    {
        // OrderBy is stable: equal timestamps keep input order, later input counting as newer.
        var ordered = events.Where(e => e.Timestamp >= from && e.Timestamp <= to).OrderBy(e => e.Timestamp).ToList();
        var picked = new List<string>(Math.Min(max, ordered.Count));
        // Newest first, so long histories stop after max lookups.
        for (int i = ordered.Count - 1; i >= 0 && picked.Count < max; i--)
        {
            string? rendered = _render(ordered[i].ItemId);
            if (rendered is null) skipped++;
            else picked.Add(rendered);
        }
        picked.Reverse();
        return picked;
    }

    private string Compose(List<string> negatives, int n, List<string> positives, int p)
    {
        var sb = new StringBuilder();
        foreach (var (isPlaceholder, value) in _parts)
        {
            if (!isPlaceholder) sb.Append(value);
            else if (value == PromptTemplate.NegativesPlaceholder) AppendJoined(sb, negatives, n);
            else if (value == PromptTemplate.PositivesClausePlaceholder && p > 0)
            {
                foreach (var (clausePlaceholder, clauseValue) in _clauseParts)
                {
                    if (clausePlaceholder) AppendJoined(sb, positives, p);
                    else sb.Append(clauseValue);
                }
            }
        }
        return sb.ToString();
    }

    // The newest 'count' items of an oldest-first list, in that order.
    private void AppendJoined(StringBuilder sb, List<string> items, int count)
    {
        for (int i = items.Count - count; i < items.Count; i++)
        {
            if (i > items.Count - count) sb.Append(_template.Separator);
            sb.Append(items[i]);
        }
    }

    private static PromptResult EmptyResult(int skipped, int dropped, DateTimeOffset? reference, string reason) =>
        new(string.Empty, [], 0, 0, skipped, dropped, reference, reason);

    private static string RenderChecked(string itemId, Func<string> render)
    {
        try
        {
            return render();
        }
        catch (ArgumentException e)
        {
            // A catalog SID that does not fit the SID tokens is a bundle error, not an unknown item.
            throw new InvalidDataException($"catalog SID of item '{itemId}' does not fit the SID tokens: {e.Message}", e);
        }
    }
}
