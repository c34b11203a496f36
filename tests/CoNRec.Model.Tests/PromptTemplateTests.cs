using System.Text.Json;
using CoNRec.Model.Prompting;
using Xunit;

namespace CoNRec.Model.Tests;

public sealed class PromptTemplateTests
{
    private static PromptTemplate Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return PromptTemplate.FromJson(doc.RootElement);
    }

    private static string Error(string json) => Assert.Throws<FormatException>(() => Parse(json)).Message;

    [Fact]
    public void Empty_object_gives_defaults()
    {
        var t = Parse("{}");
        Assert.Equal(new PromptTemplate(), t);
        Assert.Equal(PromptTemplate.DefaultText, t.Text);
        Assert.Equal(512, t.MaxTokens);
        Assert.Equal(3, t.RecentDays);
    }

    [Fact]
    public void All_fields_are_read()
    {
        var t = Parse("""
            {"template": "Disliked {negatives}.{positives_clause}", "positives_clause": " Liked {positives}.", "separator": " ",
             "context": "negatives_and_positives", "recent_days": 1.5, "max_negatives": 7, "max_positives": 0, "max_tokens": 99}
            """);
        Assert.Equal("Disliked {negatives}.{positives_clause}", t.Text);
        Assert.Equal(" Liked {positives}.", t.PositivesClause);
        Assert.Equal(" ", t.Separator);
        Assert.Equal(PromptContext.NegativesAndPositives, t.Context);
        Assert.Equal(1.5, t.RecentDays);
        Assert.Equal((7, 0, 99), (t.MaxNegatives, t.MaxPositives, t.MaxTokens));
        Assert.Equal(PromptContext.RecentNegatives, Parse("""{"context": "recent_negatives"}""").Context);
    }

    [Fact]
    public void Unknown_placeholder_is_named()
    {
        var m = Error("""{"template": "Disliked {negatives} by {user_id}"}""");
        Assert.Contains("'prompt.template'", m);
        Assert.Contains("{user_id}", m);
        Assert.Contains("{Negatives}", Error("""{"template": "Disliked {Negatives}"}"""));
    }

    [Fact]
    public void Braces_that_are_not_placeholders_are_literal()
    {
        var t = Parse("""{"template": "{\"json\": 1} {} { x } {negatives}"}""");
        Assert.Null(t.Validate());
    }

    [Fact]
    public void Negatives_placeholder_required_once()
    {
        Assert.Contains("exactly once (found 0)", Error("""{"template": "nothing here"}"""));
        Assert.Contains("exactly once (found 2)", Error("""{"template": "{negatives} {negatives}"}"""));
    }

    [Fact]
    public void Positives_clause_rules()
    {
        Assert.Contains("'prompt.positives_clause'", Error("""{"positives_clause": " liked lots."}"""));
        Assert.Contains("{negatives}", Error("""{"positives_clause": " liked {negatives}."}"""));
        var m = Error("""{"template": "Disliked {negatives}.", "context": "negatives_and_positives"}""");
        Assert.Contains("lacks {positives_clause}", m);
    }

    [Theory]
    [InlineData("""{"max_tokens": 0}""", "'prompt.max_tokens' = 0")]
    [InlineData("""{"max_tokens": -3}""", "'prompt.max_tokens' = -3")]
    [InlineData("""{"max_negatives": 0}""", "'prompt.max_negatives' = 0")]
    [InlineData("""{"max_positives": -1}""", "'prompt.max_positives' = -1")]
    [InlineData("""{"recent_days": 0}""", "'prompt.recent_days' = 0")]
    [InlineData("""{"max_tokens": "512"}""", "'prompt.max_tokens' must be an integer")]
    [InlineData("""{"max_tokens": 1.5}""", "'prompt.max_tokens' must be an integer")]
    [InlineData("""{"context": "last_week"}""", "'prompt.context' = \"last_week\" is not a known context")]
    [InlineData("""{"context": 2}""", "'prompt.context' must be a string")]
    [InlineData("""{"max_token": 512}""", "'prompt.max_token' is not a known field")]
    [InlineData("""{"template": ""}""", "'prompt.template' is empty")]
    [InlineData("""[]""", "'prompt' must be a JSON object")]
    public void Invalid_values_name_the_field(string json, string expected) => Assert.Contains(expected, Error(json));

    [Fact]
    public void Context_names_round_trip()
    {
        foreach (var c in Enum.GetValues<PromptContext>())
            Assert.Equal(c, PromptTemplate.ParseContext(PromptTemplate.ContextName(c)));
    }
}
