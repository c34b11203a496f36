using CoNRec.Model.Qwen3;
using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Training;

/// <summary>
/// Per-token log-probabilities of given answers after given prompts, teacher-forced in one forward pass (right
/// padding, padded keys masked). With <c>allowed</c> the distribution is the constrained one the sampler draws from:
/// the logits of tokens the catalog trie forbids are −∞ before the softmax, so the policy, its old copy and the
/// reference are all compared on the same (valid-SID) support.
/// </summary>
public static class PolicyLogProbs
{
    /// <param name="allowed">optional bool [N, L, V]: which tokens the trie allowed at each answer step</param>
    /// <returns>[N, L]</returns>
    public static Tensor Compute(Qwen3ForCausalLM model, IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> answers, int padId, Tensor? allowed)
    {
        using var scope = NewDisposeScope();
        int n = prompts.Count, answer = answers[0].Length;
        int t = Enumerable.Range(0, n).Max(i => prompts[i].Length + answer - 1);
        var ids = new long[n * t];
        var valid = new bool[n * t];
        var at = new long[n * answer];
        var labels = new long[n * answer];
        Array.Fill(ids, padId);
        for (int i = 0; i < n; i++)
        {
            var p = prompts[i];
            var a = answers[i];
            if (a.Length != answer) throw new ArgumentException("all answers must have the same length");
            int len = p.Length + answer - 1; // the last answer token is only a label
            for (int j = 0; j < len; j++)
            {
                ids[i * t + j] = j < p.Length ? p[j] : a[j - p.Length];
                valid[i * t + j] = true;
            }
            for (int j = 0; j < answer; j++)
            {
                at[i * answer + j] = p.Length - 1 + j;
                labels[i * answer + j] = a[j];
            }
        }
        var device = model.Decoder.EmbeddingWeight.device;
        var inputIds = torch.tensor(ids, [n, t], device: device);
        var keyValid = torch.tensor(valid, [n, t], device: device);
        var positions = torch.arange(t, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(n, t);
        var mask = AttentionMasks.Build(keyValid, t, model.Decoder.EmbeddingWeight.dtype);
        var hidden = model.Decoder.Forward(inputIds, positions, mask, null);
        var index = torch.tensor(at, [n, answer], device: device).unsqueeze(-1).expand(n, answer, hidden.shape[2]);
        var logits = model.Head(hidden.gather(1, index)).to_type(ScalarType.Float32);           // [N, L, V]
        if (allowed is not null) logits = logits.masked_fill(allowed.logical_not(), float.NegativeInfinity);
        var logProbs = logits.log_softmax(-1);
        return logProbs.gather(2, torch.tensor(labels, [n, answer], device: device).unsqueeze(-1)).squeeze(-1).MoveToOuterDisposeScope();
    }
}
