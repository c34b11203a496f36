using CoNRec.Core;
using Xunit;

namespace CoNRec.Core.Tests;

public class FilterRulesTests
{
    [Theory]
    [InlineData(FilterMode.Enforce)]
    [InlineData(FilterMode.Shadow)]
    public void Score_equal_to_the_threshold_does_not_reject(FilterMode mode)
    {
        var d = FilterRules.Scored(0.75f, 3, new SceneSettings(0.75f, mode));
        Assert.False(d.Rejected);
        Assert.False(d.WouldReject);
        Assert.Equal(0.75f, d.Score);
        Assert.Equal(3, d.MatchedIndex);
        Assert.Equal(DecisionReason.Scored, d.Reason);
    }

    [Fact]
    public void Score_below_the_threshold_does_not_reject()
    {
        var d = FilterRules.Scored(0.5f, 1, new SceneSettings(0.9f, FilterMode.Enforce));
        Assert.Equal(new FilterDecision(false, false, 0.5f, 1, DecisionReason.Scored, MatchSource.Predicted), d);
    }

    [Fact]
    public void Enforce_above_the_threshold_rejects()
    {
        // The next float above the threshold is enough: strictly greater.
        float above = MathF.BitIncrement(0.75f);
        var d = FilterRules.Scored(above, 7, new SceneSettings(0.75f, FilterMode.Enforce));
        Assert.Equal(new FilterDecision(true, true, above, 7, DecisionReason.Scored, MatchSource.Predicted), d);
    }

    [Fact]
    public void Shadow_above_the_threshold_only_would_reject()
    {
        var d = FilterRules.Scored(0.95f, 2, new SceneSettings(0.9f, FilterMode.Shadow));
        Assert.Equal(new FilterDecision(false, true, 0.95f, 2, DecisionReason.Scored, MatchSource.Predicted), d);
    }

    [Theory]
    [InlineData(0.95f)]
    [InlineData(-0.5f)]
    public void Off_never_scores(float score)
    {
        var d = FilterRules.Scored(score, 4, new SceneSettings(0.9f, FilterMode.Off));
        Assert.False(d.Rejected);
        Assert.False(d.WouldReject);
        Assert.Equal(0f, d.Score);
        Assert.Equal(-1, d.MatchedIndex);
        Assert.Equal(DecisionReason.FilterOff, d.Reason);
    }

    [Fact]
    public void Threshold_of_minus_one_rejects_everything_above_minus_one()
    {
        var scene = new SceneSettings(-1f, FilterMode.Enforce);
        Assert.True(FilterRules.Scored(-0.999f, 0, scene).Rejected);
        Assert.False(FilterRules.Scored(-1f, 0, scene).Rejected);
    }

    [Fact]
    public void Threshold_of_one_rejects_nothing_in_range()
    {
        var scene = new SceneSettings(1f, FilterMode.Enforce);
        Assert.False(FilterRules.Scored(1f, 0, scene).Rejected);
        Assert.False(FilterRules.Scored(0.99999f, 0, scene).WouldReject);
    }

    [Theory]
    [InlineData(DecisionReason.NoPredictions)]
    [InlineData(DecisionReason.UnknownItem)]
    [InlineData(DecisionReason.StoreUnavailable)]
    [InlineData(DecisionReason.FilterOff)]
    public void FailOpen_never_rejects(DecisionReason reason)
    {
        var d = FilterRules.FailOpen(reason);
        Assert.Equal(new FilterDecision(false, false, 0f, -1, reason), d);
    }

    [Fact]
    public void Default_scene_enforces_at_0_9()
    {
        Assert.Equal(new SceneSettings(0.9f, FilterMode.Enforce), SceneSettings.Default);
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(1.0)]
    [InlineData(0.5)]
    [InlineData(0.0)]
    [InlineData(-0.25)]
    public void Validate_accepts_thresholds_in_range(double threshold)
    {
        Assert.Null(SceneSettings.Validate(threshold));
    }

    [Theory]
    [InlineData(1.0001)]
    [InlineData(-1.0001)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(2.0)]
    public void Validate_rejects_thresholds_out_of_range(double threshold)
    {
        var error = SceneSettings.Validate(threshold);
        Assert.NotNull(error);
        Assert.Contains("[-1, 1]", error);
        Assert.Contains("'threshold'", error);
    }

    [Theory]
    [InlineData("enforce", FilterMode.Enforce)]
    [InlineData("ENFORCE", FilterMode.Enforce)]
    [InlineData("Enforce", FilterMode.Enforce)]
    [InlineData("shadow", FilterMode.Shadow)]
    [InlineData("SHADOW", FilterMode.Shadow)]
    [InlineData("sHaDoW", FilterMode.Shadow)]
    [InlineData("off", FilterMode.Off)]
    [InlineData("OFF", FilterMode.Off)]
    [InlineData("Off", FilterMode.Off)]
    public void ParseMode_is_case_insensitive(string text, FilterMode expected)
    {
        Assert.Equal(expected, SceneSettings.ParseMode(text));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("on")]
    [InlineData(" enforce")]
    [InlineData("enforce ")]
    [InlineData("1")]
    [InlineData("shadowed")]
    public void ParseMode_returns_null_for_anything_else(string? text)
    {
        Assert.Null(SceneSettings.ParseMode(text));
    }

    [Theory]
    [InlineData(FilterMode.Enforce, "enforce")]
    [InlineData(FilterMode.Shadow, "shadow")]
    [InlineData(FilterMode.Off, "off")]
    public void ModeName_round_trips_through_ParseMode(FilterMode mode, string name)
    {
        Assert.Equal(name, SceneSettings.ModeName(mode));
        Assert.Equal(mode, SceneSettings.ParseMode(SceneSettings.ModeName(mode)));
    }

    [Fact]
    public void ModeName_rejects_unknown_values()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SceneSettings.ModeName((FilterMode)0));
    }

    [Fact]
    public void Enum_numbers_match_the_wire_protocol()
    {
        Assert.Equal(1, (int)FilterMode.Enforce);
        Assert.Equal(2, (int)FilterMode.Shadow);
        Assert.Equal(3, (int)FilterMode.Off);
        Assert.Equal(1, (int)DecisionReason.Scored);
        Assert.Equal(2, (int)DecisionReason.NoPredictions);
        Assert.Equal(3, (int)DecisionReason.UnknownItem);
        Assert.Equal(4, (int)DecisionReason.StoreUnavailable);
        Assert.Equal(5, (int)DecisionReason.FilterOff);
    }
}
