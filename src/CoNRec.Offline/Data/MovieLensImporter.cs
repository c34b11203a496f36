using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using CoNRec.Core;

namespace CoNRec.Offline.Data;

/// <summary>
/// Reads the MovieLens 100K files (<c>u.data</c>, <c>u.item</c>, <c>u.genre</c>) into the generic format.
/// Ratings 1–2 become <see cref="FeedbackKind.Negative"/> (reason "rating r"), 3 a neutral
/// <see cref="FeedbackKind.Rating"/> exposure, 4–5 a positive <see cref="FeedbackKind.Rating"/>; all keep their value.
/// Ids are prefixed ("u196", "i242") so user and item ids never look alike.
/// </summary>
public static partial class MovieLensImporter
{
    public const double MaxNegativeRating = 2;

    /// <summary>u.item fields before the genre flags: id, title, release date, video release date, IMDb url.</summary>
    private const int FixedItemFields = 5;

    public static InteractionDataset Import(string dir)
    {
        var genres = ReadGenres(Path.Combine(dir, "u.genre"));
        var items = ReadItems(Path.Combine(dir, "u.item"), genres);
        var interactions = ReadRatings(Path.Combine(dir, "u.data"), items);
        return InteractionDataset.Create("movielens-100k", items.Values, interactions);
    }

    private static IEnumerable<(long Line, string Text)> Lines(string path, Encoding encoding)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"MovieLens file {path} does not exist", path);
        long n = 0;
        foreach (var text in File.ReadLines(path, encoding))
        {
            n++;
            if (text.Trim().Length > 0) yield return (n, text.TrimEnd('\r'));
        }
    }

    private static string[] ReadGenres(string path)
    {
        var byIndex = new SortedDictionary<int, string>();
        foreach (var (line, text) in Lines(path, Encoding.Latin1))
        {
            var f = text.Split('|');
            if (f.Length != 2) throw new InputFormatException(path, line, $"expected 2 '|'-separated fields (name|index), found {f.Length}");
            if (f[0].Length == 0) throw new InputFormatException(path, line, "genre name is empty");
            if (!int.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index > 1000)
                throw new InputFormatException(path, line, $"genre index '{f[1]}' is not an integer in [0, 1000]");
            if (!byIndex.TryAdd(index, f[0])) throw new InputFormatException(path, line, $"genre index {index} appears twice");
        }
        if (byIndex.Count == 0) throw new InvalidDataException($"{path} lists no genres");
        // Flags in u.item are positional, so the indices must be exactly 0..n-1.
        if (byIndex.Keys.Last() != byIndex.Count - 1) throw new InvalidDataException($"{path}: genre indices must be 0..{byIndex.Count - 1} without gaps");
        return [.. byIndex.Values];
    }

    private static Dictionary<int, ItemFeatures> ReadItems(string path, string[] genres)
    {
        var items = new Dictionary<int, ItemFeatures>();
        int expected = FixedItemFields + genres.Length;
        // u.item is Latin-1 (titles such as "Nénette et Boni"); reading it as UTF-8 would mangle them.
        foreach (var (line, text) in Lines(path, Encoding.Latin1))
        {
            var f = text.Split('|');
            if (f.Length != expected) throw new InputFormatException(path, line, $"expected {expected} '|'-separated fields, found {f.Length}");
            if (!int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id <= 0)
                throw new InputFormatException(path, line, $"movie id '{f[0]}' is not a positive integer");
            var categories = new List<string>();
            for (int g = 0; g < genres.Length; g++)
            {
                var flag = f[FixedItemFields + g];
                if (flag == "1") categories.Add(genres[g]);
                else if (flag != "0") throw new InputFormatException(path, line, $"genre flag {g} ({genres[g]}) is '{flag}', expected 0 or 1");
            }
            var (title, year) = SplitTitle(f[1]);
            if (year is null && f[2].Length > 0)
            {
                if (!DateTime.TryParseExact(f[2], "dd-MMM-yyyy", CultureInfo.InvariantCulture, DateTimeStyles.None, out var release))
                    throw new InputFormatException(path, line, $"release date '{f[2]}' is not dd-MMM-yyyy");
                year = release.Year;
            }
            var numbers = new Dictionary<string, double>(StringComparer.Ordinal);
            if (year is { } y) numbers["year"] = y;
            if (!items.TryAdd(id, new ItemFeatures($"i{id}", title, categories, numbers)))
                throw new InputFormatException(path, line, $"movie id {id} appears twice");
        }
        return items;
    }

    /// <summary>"Toy Story (1995)" → ("Toy Story", 1995); a trailing tag after the year is kept: "X (1995) (V)" → ("X (V)", 1995).</summary>
    public static (string Title, int? Year) SplitTitle(string raw)
    {
        var m = TitleYear().Match(raw);
        if (!m.Success) return (raw.Trim(), null);
        var title = (m.Groups[1].Value + m.Groups[3].Value).Trim();
        return (title.Length == 0 ? raw.Trim() : title, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"^(.*?)\s*\(((?:1[89]|20)\d\d)\)((?:\s*\([^()]*\))*)\s*$")]
    private static partial Regex TitleYear();

    private static List<Interaction> ReadRatings(string path, Dictionary<int, ItemFeatures> items)
    {
        var result = new List<Interaction>();
        foreach (var (line, text) in Lines(path, Encoding.ASCII))
        {
            var f = text.Split('\t');
            if (f.Length != 4) throw new InputFormatException(path, line, $"expected 4 tab-separated fields (user item rating timestamp), found {f.Length}");
            if (!int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var user) || user <= 0)
                throw new InputFormatException(path, line, $"user id '{f[0]}' is not a positive integer");
            if (!int.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var item) || item <= 0)
                throw new InputFormatException(path, line, $"item id '{f[1]}' is not a positive integer");
            if (!int.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var rating) || rating is < 1 or > 5)
                throw new InputFormatException(path, line, $"rating '{f[2]}' is not an integer in [1, 5]");
            if (!long.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > 253402300799)
                throw new InputFormatException(path, line, $"timestamp '{f[3]}' is not non-negative unix seconds");
            if (!items.ContainsKey(item)) throw new InputFormatException(path, line, $"item {item} is not in u.item");
            var ts = DateTimeOffset.FromUnixTimeSeconds(seconds);
            result.Add(rating <= MaxNegativeRating
                ? new Interaction($"u{user}", $"i{item}", ts, FeedbackKind.Negative, $"rating {rating}", rating)
                : new Interaction($"u{user}", $"i{item}", ts, FeedbackKind.Rating, null, rating));
        }
        return result;
    }
}
