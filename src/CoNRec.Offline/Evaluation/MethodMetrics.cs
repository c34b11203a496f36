namespace CoNRec.Offline.Evaluation;

/// <summary>
/// One method's metrics. A rate is null when its denominator is 0 (no such cases), never a made-up 0.
/// <see cref="Cases"/> is the denominator of HR, FHR and Candidate Acc; <see cref="LufCases"/> and
/// <see cref="LifCases"/> those of LUF and LIF.
/// </summary>
public sealed record MethodMetrics(string Method, double? HR, double? FHR, double? LUF, double? LIF, double? CandidateAcc,
                                   int Cases, int LufCases, int LifCases);
