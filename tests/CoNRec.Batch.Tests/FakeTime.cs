namespace CoNRec.Batch.Tests;

/// <summary>A clock that moves only when told, firing due timers in time order as it goes.</summary>
public sealed class FakeTime : TimeProvider
{
    private readonly List<FakeTimer> _timers = [];
    private long _now;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => _now;
    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(_now);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new FakeTimer(this, callback, state);
        timer.Change(dueTime, period);
        lock (_timers) _timers.Add(timer);
        return timer;
    }

    public void Advance(TimeSpan by)
    {
        long target = _now + by.Ticks;
        while (true)
        {
            FakeTimer? next;
            lock (_timers) next = _timers.Where(t => t.Due <= target).OrderBy(t => t.Due).FirstOrDefault();
            if (next is null) break;
            _now = Math.Max(_now, next.Due);
            next.Fire();
        }
        _now = target;
    }

    private sealed class FakeTimer(FakeTime time, TimerCallback callback, object? state) : ITimer
    {
        private long _period;
        public long Due { get; private set; } = long.MaxValue;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Due = dueTime == Timeout.InfiniteTimeSpan ? long.MaxValue : time._now + dueTime.Ticks;
            _period = period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks;
            return true;
        }

        public void Fire()
        {
            Due = _period > 0 ? Due + _period : long.MaxValue;
            callback(state);
        }

        public void Dispose() => Due = long.MaxValue;
        public ValueTask DisposeAsync() { Dispose(); return ValueTask.CompletedTask; }
    }
}
