using System.Text;
using CoNRec.Core;
using CoNRec.Offline.Data;
using Xunit;

namespace CoNRec.Offline.Tests;

public class MovieLensImporterTests
{
    private const string Genres = "unknown|0\nAction|1\nComedy|2\n\n";

    private const string ItemLines =
        "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n" +
        "2|Nénette et Boni (1996)|29-Nov-1996||http://x|0|0|0\n" +
        "3|unknown||||1|0|0\n" +
        "4|Land Before Time III (1995) (V)|01-Jan-1995||http://x|0|1|0\n" +
        "5|No Year Here|22-Jan-1996||http://x|0|1|1\n";

    private const string Ratings = "10\t1\t1\t881250949\n10\t2\t2\t881250950\n11\t3\t3\t881250951\n11\t4\t4\t881250952\n12\t5\t5\t881250953\n";

    private static TempDir Fixture(string genres = Genres, string items = ItemLines, string ratings = Ratings)
    {
        var dir = new TempDir();
        File.WriteAllText(dir.File("u.genre"), genres, Encoding.Latin1);
        File.WriteAllText(dir.File("u.item"), items, Encoding.Latin1);
        File.WriteAllText(dir.File("u.data"), ratings, Encoding.ASCII);
        return dir;
    }

    [Fact]
    public void Imports_items_with_genres_years_and_latin1_titles()
    {
        using var dir = Fixture();
        var ds = MovieLensImporter.Import(dir.Path);
        var byId = ds.ItemsById;
        Assert.Equal(5, ds.Items.Count);
        Assert.Equal("Toy Story", byId["i1"].Title);
        Assert.Equal(["Comedy"], byId["i1"].Categories);
        Assert.Equal(1995, byId["i1"].Numbers["year"]);
        Assert.Equal("Nénette et Boni", byId["i2"].Title); // decoded as Latin-1, not mangled as UTF-8
        Assert.Empty(byId["i2"].Categories);
        Assert.Equal(["unknown"], byId["i3"].Categories);
        Assert.Empty(byId["i3"].Numbers); // no year anywhere: allowed
        Assert.Equal("Land Before Time III (V)", byId["i4"].Title);
        Assert.Equal(1995, byId["i4"].Numbers["year"]);
        Assert.Equal(["Action", "Comedy"], byId["i5"].Categories);
        Assert.Equal(1996, byId["i5"].Numbers["year"]); // from the release date
    }

    [Fact]
    public void Ratings_map_to_negative_neutral_and_positive()
    {
        using var dir = Fixture();
        var xs = MovieLensImporter.Import(dir.Path).Interactions;
        Assert.Equal(5, xs.Count);
        Assert.Equal(new Interaction("u10", "i1", DateTimeOffset.FromUnixTimeSeconds(881250949), FeedbackKind.Negative, "rating 1", 1), xs[0]);
        Assert.Equal(new Interaction("u10", "i2", DateTimeOffset.FromUnixTimeSeconds(881250950), FeedbackKind.Negative, "rating 2", 2), xs[1]);
        Assert.Equal(new Interaction("u11", "i3", DateTimeOffset.FromUnixTimeSeconds(881250951), FeedbackKind.Rating, null, 3), xs[2]);
        Assert.False(xs[2].IsPositive);
        Assert.False(xs[2].IsNegative);
        Assert.True(xs[3].IsPositive);
        Assert.Equal(FeedbackKind.Rating, xs[4].Kind);
        Assert.Equal(5, xs[4].Rating);
    }

    [Theory]
    [InlineData("10\t1\t6\t881250949", 2, "rating '6' is not an integer in [1, 5]")]
    [InlineData("10\t1\t0\t881250949", 2, "rating '0' is not an integer in [1, 5]")]
    [InlineData("10\t1\t4.5\t881250949", 2, "rating '4.5' is not an integer")]
    [InlineData("10\t99\t4\t881250949", 2, "item 99 is not in u.item")]
    [InlineData("10\t1\t4", 2, "expected 4 tab-separated fields")]
    [InlineData("x\t1\t4\t881250949", 2, "user id 'x' is not a positive integer")]
    [InlineData("10\t1\t4\t-5", 2, "timestamp '-5' is not non-negative unix seconds")]
    public void Malformed_rating_rows_name_file_and_line(string badRow, int line, string expected)
    {
        using var dir = Fixture(ratings: "10\t1\t4\t881250949\n" + badRow + "\n");
        var e = Assert.Throws<InputFormatException>(() => MovieLensImporter.Import(dir.Path));
        Assert.EndsWith("u.data", e.FileName);
        Assert.Equal(line, e.Line);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("6|Bad Flag (1995)|01-Jan-1995||http://x|0|2|0", "genre flag 1 (Action) is '2'")]
    [InlineData("6|Short (1995)|01-Jan-1995||http://x|0|1", "expected 8 '|'-separated fields, found 7")]
    [InlineData("1|Again (1995)|01-Jan-1995||http://x|0|1|0", "movie id 1 appears twice")]
    [InlineData("abc|T (1995)|01-Jan-1995||http://x|0|1|0", "movie id 'abc' is not a positive integer")]
    [InlineData("6|No Year|1995-01-01||http://x|0|1|0", "release date '1995-01-01' is not dd-MMM-yyyy")]
    public void Malformed_item_rows_name_file_and_line(string badRow, string expected)
    {
        using var dir = Fixture(items: ItemLines + badRow + "\n");
        var e = Assert.Throws<InputFormatException>(() => MovieLensImporter.Import(dir.Path));
        Assert.EndsWith("u.item", e.FileName);
        Assert.Equal(6, e.Line);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Genre_indices_must_be_contiguous_and_missing_files_are_named()
    {
        using (var dir = Fixture(genres: "unknown|0\nAction|2\n"))
            Assert.Contains("genre indices must be 0..1", Assert.Throws<InvalidDataException>(() => MovieLensImporter.Import(dir.Path)).Message);
        using (var dir = Fixture(genres: "unknown|0\nAction\n"))
            Assert.Equal(2, Assert.Throws<InputFormatException>(() => MovieLensImporter.Import(dir.Path)).Line);
        using (var dir = Fixture())
        {
            File.Delete(dir.File("u.data"));
            Assert.Contains("u.data", Assert.Throws<FileNotFoundException>(() => MovieLensImporter.Import(dir.Path)).Message);
        }
    }

    [Theory]
    [InlineData("Toy Story (1995)", "Toy Story", 1995)]
    [InlineData("Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)", "Shanghai Triad (Yao a yao yao dao waipo qiao)", 1995)]
    [InlineData("unknown", "unknown", null)]
    [InlineData("Men in Black (1997)  ", "Men in Black", 1997)]
    public void Split_title_removes_the_year_suffix(string raw, string title, int? year) =>
        Assert.Equal((title, year), MovieLensImporter.SplitTitle(raw));
}
