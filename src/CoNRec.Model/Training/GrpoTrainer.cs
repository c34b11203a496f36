using System.Diagnostics;
using CoNRec.Core;
using CoNRec.Model.Generation;
using CoNRec.Model.Prompting;
using CoNRec.Model.Qwen3;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.Training;

/// <summary>What GRPO needs from the fine-tuner: the model's parts, the catalog and a prompt builder per stage.</summary>
public sealed record GrpoContext(
    Qwen3ForCausalLM Policy,
    Qwen3ForCausalLM Reference,
    IReadOnlyList<Parameter> Trainable,
    Action? AfterBackward,
    SidTrie Trie,
    Codebook Codebook,
    IReadOnlyDictionary<string, ulong> Catalog,
    Func<GrpoStage, PromptBuilder> Prompts,
    int PadTokenId);

/// <summary>A stage's outcome; validation figures are of the criterion (<see cref="GrpoOptions.Validation"/>), hits and reward both logged per step.</summary>
public sealed record GrpoStageResult(GrpoStage Stage, int Steps, int Prompts, double? BestValidationReward, double? InitialValidationReward, TimeSpan Wall)
{
    public string Criterion { get; init; } = "hits";
}

/// <summary>
/// Progressive-context GRPO (paper Eq. 3-4) after SFT: for each step, G constrained samples per prompt from the
/// current (old) policy, the Eq. 6 reward of each through the codebook reconstructions the filter uses, advantages
/// normalised within the group, then μ clipped-ratio updates with a k3 KL penalty to the frozen SFT reference. Each
/// stage widens the prompt (3-day negatives → all negatives → negatives and positives) with its own β, and stops
/// early when the validation reward (the mean Eq. 6 reward of the beam's top-k, what the filter will serve) has not
/// improved for <see cref="GrpoOptions.Patience"/> evaluations; the stage's best weights are kept.
/// </summary>
public static class GrpoTrainer
{
    public static (List<GrpoStageResult> Stages, List<GrpoStepLog> Steps) Train(GrpoContext c, IReadOnlyList<GrpoExample> train,
        IReadOnlyList<GrpoExample> validation, GrpoOptions options, IProgress<TrainProgress>? progress = null)
    {
        options.Validate();
        var device = c.Policy.Decoder.EmbeddingWeight.device;
        using var generator = new torch.Generator((ulong)options.Seed);
        var rng = new Random(options.Seed);
        var logs = new List<GrpoStepLog>();
        var results = new List<GrpoStageResult>();
        var catalogSids = c.Catalog.Values.ToHashSet();
        using var optimizer = torch.optim.AdamW(c.Trainable, lr: options.LearningRate, weight_decay: 0.0);
        int totalSteps = options.Stages.Sum(s => s.MaxSteps), globalStep = 0;
        var clock = Stopwatch.StartNew();
        c.Policy.eval(); // dropout off: the ratio must compare the same function the rollouts came from

        for (int si = 0; si < options.Stages.Count; si++)
        {
            var stage = options.Stages[si];
            var stageClock = Stopwatch.StartNew();
            var builder = c.Prompts(stage);
            var prompts = Prepare(builder, train, c.Catalog, options);
            var valPrompts = Prepare(builder, validation, c.Catalog, options).Take(options.MaxValidationPrompts).ToList();
            if (prompts.Count == 0) { results.Add(new GrpoStageResult(stage, 0, 0, null, null, stageClock.Elapsed)); continue; }
            double? initial = valPrompts.Count > 0 ? Criterion(ValidationScores(c, valPrompts, options), options) : null;
            double? best = initial;
            var bestState = Snapshot(c.Trainable);
            int sinceBest = 0, step = 0;
            for (; step < stage.MaxSteps; step++)
            {
                var batch = Enumerable.Range(0, options.PromptsPerStep).Select(_ => prompts[rng.Next(prompts.Count)]).ToList();
                var rows = batch.SelectMany(p => Enumerable.Repeat(p, options.GroupSize)).ToList();
                var rowPrompts = rows.Select(r => r.Tokens).ToList();
                using var rollouts = ConstrainedSampler.Sample(c.Policy, c.Trie, rowPrompts, c.PadTokenId, options.Temperature, generator);
                var rewards = rows.Select((r, i) => Reward.Compute(c.Codebook, rollouts.Sids[i], r.Target, r.Positives, options.Gamma)).ToList();
                var advantages = GrpoLoss.Advantages(rewards, options.GroupSize);
                double valid = rollouts.Sids.Count(catalogSids.Contains) / (double)rollouts.Sids.Length;
                Tensor oldLp, refLp;
                using (torch.no_grad())
                {
                    oldLp = PolicyLogProbs.Compute(c.Policy, rowPrompts, rollouts.Tokens, c.PadTokenId, rollouts.Allowed);
                    refLp = PolicyLogProbs.Compute(c.Reference, rowPrompts, rollouts.Tokens, c.PadTokenId, rollouts.Allowed);
                }
                double kl = 0, clip = 0, lossValue = 0;
                using (var adv = torch.tensor(advantages, device: device))
                {
                    for (int mu = 0; mu < options.InnerIterations; mu++)
                    {
                        using var scope = NewDisposeScope();
                        optimizer.zero_grad();
                        var lp = PolicyLogProbs.Compute(c.Policy, rowPrompts, rollouts.Tokens, c.PadTokenId, rollouts.Allowed);
                        var terms = GrpoLoss.Compute(lp, oldLp, refLp, adv, options.Epsilon, stage.Beta);
                        terms.Loss.backward();
                        c.AfterBackward?.Invoke();
                        nn.utils.clip_grad_norm_(c.Trainable, options.GradientClipNorm);
                        optimizer.step();
                        kl = terms.Kl; clip = terms.ClipFraction; lossValue = terms.Loss.item<float>();
                    }
                }
                oldLp.Dispose();
                refLp.Dispose();
                if (!double.IsFinite(lossValue)) throw new InvalidOperationException($"GRPO diverged at stage {si} step {step}: loss is {lossValue}; lower the GRPO learning rate ({options.LearningRate})");
                double mean = rewards.Average();
                double std = Math.Sqrt(rewards.Sum(r => (r - mean) * (r - mean)) / Math.Max(1, rewards.Count - 1));
                double? val = null, hits = null;
                if ((step + 1) % options.EvalEvery == 0 && valPrompts.Count > 0)
                {
                    var scores = ValidationScores(c, valPrompts, options);
                    (val, hits) = (scores.Reward, scores.Hits);
                    double score = Criterion(scores, options);
                    if (best is null || score > best + 1e-6) { best = score; bestState.Dispose(); bestState = Snapshot(c.Trainable); sinceBest = 0; }
                    else if (++sinceBest >= options.Patience)
                    {
                        logs.Add(new GrpoStepLog(si, step, mean, std, kl, clip, valid, lossValue, val) { ValidationHits = hits });
                        step++;
                        break;
                    }
                }
                logs.Add(new GrpoStepLog(si, step, mean, std, kl, clip, valid, lossValue, val) { ValidationHits = hits });
                globalStep++;
                progress?.Report(new TrainProgress(si, stage.Context, 0, globalStep, totalSteps, lossValue, options.LearningRate, clock.Elapsed));
            }
            // The stage hands its best validated weights to the next one (and to the bundle).
            if (valPrompts.Count > 0) Restore(c.Trainable, bestState);
            bestState.Dispose();
            results.Add(new GrpoStageResult(stage, step, prompts.Count, best, initial, stageClock.Elapsed) { Criterion = options.Validation == GrpoValidation.Hits ? "hits" : "reward" });
        }
        return (results, logs);
    }

    private sealed record PreparedPrompt(int[] Tokens, IReadOnlyList<ulong> Target, IReadOnlyList<ulong> Positives, IReadOnlySet<ulong> FutureNegatives);

    private static List<PreparedPrompt> Prepare(PromptBuilder builder, IReadOnlyList<GrpoExample> examples, IReadOnlyDictionary<string, ulong> catalog, GrpoOptions o)
    {
        var result = new List<PreparedPrompt>();
        foreach (var e in examples)
        {
            var prompt = builder.Build(e.History, e.At);
            if (prompt.Empty) continue;
            IEnumerable<string> target = o.Target == RewardTarget.NextNegative ? [e.NextNegative] : e.SevenDayNegatives;
            var gts = target.Where(catalog.ContainsKey).Select(i => catalog[i]).Distinct().ToList();
            if (gts.Count == 0) continue;
            var fps = o.Gamma > 0 ? e.FuturePositives.Where(catalog.ContainsKey).Select(i => catalog[i]).Distinct().ToList() : [];
            var future = e.FutureNegatives.Where(catalog.ContainsKey).Select(i => catalog[i]).ToHashSet();
            result.Add(new PreparedPrompt([.. prompt.TokenIds], gts, fps, future));
        }
        return result;
    }

    /// <summary>
    /// On the validation prompts, the top-k of constrained beam search (what the filter would serve): the mean Eq. 6
    /// reward of its outputs, and the share of prompts whose top-k holds one of the 7-day negatives exactly (FHR@k).
    /// </summary>
    private static (double Reward, double Hits) ValidationScores(GrpoContext c, List<PreparedPrompt> prompts, GrpoOptions o)
    {
        var device = c.Policy.Decoder.EmbeddingWeight.device;
        var search = new ConstrainedBeamSearch(c.Policy, c.Trie, new BeamSearchOptions { BeamWidth = o.ValidationTopK, TopK = o.ValidationTopK, MaxBatchUsers = 16 }, c.PadTokenId, device);
        var outputs = search.Generate([.. prompts.Select(p => p.Tokens)]);
        double sum = 0;
        int n = 0, hits = 0;
        for (int i = 0; i < prompts.Count; i++)
        {
            foreach (var g in outputs[i])
            {
                sum += Reward.Compute(c.Codebook, g.Sid, prompts[i].Target, prompts[i].Positives, o.Gamma);
                n++;
            }
            if (outputs[i].Any(g => prompts[i].FutureNegatives.Contains(g.Sid))) hits++;
        }
        return (n == 0 ? 0 : sum / n, prompts.Count == 0 ? 0 : hits / (double)prompts.Count);
    }

    private static double Criterion((double Reward, double Hits) s, GrpoOptions o) => o.Validation == GrpoValidation.Hits ? s.Hits : s.Reward;

    private sealed class State(List<Tensor> values) : IDisposable
    {
        public List<Tensor> Values { get; } = values;
        public void Dispose() { foreach (var v in Values) v.Dispose(); }
    }

    private static State Snapshot(IReadOnlyList<Parameter> parameters)
    {
        using var _ = torch.no_grad();
        return new State([.. parameters.Select(p => p.detach().clone())]);
    }

    private static void Restore(IReadOnlyList<Parameter> parameters, State state)
    {
        using var _ = torch.no_grad();
        for (int i = 0; i < parameters.Count; i++) parameters[i].copy_(state.Values[i]);
    }
}
