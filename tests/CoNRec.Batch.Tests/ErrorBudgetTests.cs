using System.Text;
using CoNRec.Batch.Histories;
using Xunit;

namespace CoNRec.Batch.Tests;

public sealed class ErrorBudgetTests
{
    [Fact]
    public void Count_limit_allows_exactly_that_many_bad_records()
    {
        var budget = new ErrorBudget(maxCount: 2);
        budget.RecordGood(1000);
        budget.RecordBad("a");
        budget.RecordBad("b");
        Assert.False(budget.IsExceeded);
        Assert.False(budget.ShouldAbort());
        budget.RecordBad("c");
        Assert.True(budget.IsExceeded);
        Assert.True(budget.ShouldAbort()); // a count can only grow: stop now
        var e = Assert.Throws<ErrorBudgetExceededException>(() => budget.ThrowIfExceeded("histories.jsonl"));
        Assert.Equal("histories.jsonl: 3 bad records of 1,003 (0.30%); allowed: at most 2", e.Message);
        Assert.Equal(["a", "b", "c"], e.FirstErrors);
    }

    [Fact]
    public void Fraction_limit_is_judged_over_all_records_and_aborts_early_only_when_it_cannot_be_met()
    {
        var budget = new ErrorBudget(maxFraction: 0.01);
        budget.RecordBad("first record is bad");
        Assert.True(budget.IsExceeded); // 1 of 1 so far
        Assert.False(budget.ShouldAbort()); // but more records may follow
        Assert.False(budget.ShouldAbort(expectedTotal: 1000));
        budget.RecordGood(99);
        Assert.False(budget.IsExceeded); // 1 of 100 = 1% is allowed
        budget.RecordBad("second");
        Assert.True(budget.IsExceeded); // 2 of 101
        Assert.False(budget.ShouldAbort(expectedTotal: 1000)); // 2 ≤ 10 of the expected 1,000
        for (int i = 0; i < 9; i++) budget.RecordBad($"more {i}");
        Assert.True(budget.ShouldAbort(expectedTotal: 1000)); // 11 > 1% of 1,000 whatever follows
        Assert.Equal("11 bad records of 110 (10.00%); allowed: at most 1%", budget.Summary());
    }

    [Fact]
    public void Both_limits_must_hold_and_no_limits_means_none_allowed()
    {
        var both = new ErrorBudget(maxCount: 5, maxFraction: 0.5);
        both.RecordGood(4);
        for (int i = 0; i < 4; i++) both.RecordBad(null);
        Assert.False(both.IsExceeded); // 4 ≤ 5 and 4/8 ≤ 50%
        both.RecordBad(null);
        Assert.True(both.IsExceeded); // 5/9 > 50%
        Assert.Equal("at most 5 and 50%", both.Describe());

        var strict = new ErrorBudget();
        strict.RecordGood(10);
        Assert.False(strict.IsExceeded);
        strict.RecordBad("x");
        Assert.True(strict.IsExceeded);
        Assert.Equal("none", strict.Describe());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ErrorBudget(maxFraction: 1.5));
    }

    [Fact]
    public void Keeps_only_the_first_messages_but_counts_everything_from_reader_records()
    {
        var lines = string.Join("\n", Enumerable.Range(0, 50).Select(i => i % 2 == 0 ? $"{{\"user_id\": \"u{i}\"}}" : $"{{\"user_id\": {i}}}"));
        var budget = new ErrorBudget(maxCount: 100);
        foreach (var r in HistoryReader.ReadJsonl(new MemoryStream(Encoding.UTF8.GetBytes(lines)), "h.jsonl")) budget.Record(r);
        Assert.Equal(25, budget.Good);
        Assert.Equal(25, budget.Bad);
        Assert.Equal(ErrorBudget.KeptMessages, budget.Messages.Count);
        Assert.Equal("h.jsonl:2: 'user_id' must be a string", budget.Messages[0]);
        Assert.Equal("h.jsonl:40: 'user_id' must be a string", budget.Messages[^1]);
    }
}
