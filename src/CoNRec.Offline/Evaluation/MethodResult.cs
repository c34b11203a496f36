namespace CoNRec.Offline.Evaluation;

/// <summary>One method's metrics and its operating curve from the same cases.</summary>
public sealed record MethodResult(MethodMetrics Metrics, OperatingCurve Curve);
