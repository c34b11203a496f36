using CoNRec.Model.Qwen3;

namespace CoNRec.Model.Tests;

/// <summary>
/// An independent, deliberately naive double-precision Qwen3 forward written from HF's modeling_qwen3 semantics
/// (q/k RMSNorm per head before RoPE, half-split rotation, GQA, SwiGLU, pre-norm, final norm, tied or untied head).
/// It shares no code with the TorchSharp model, so agreement means both read the architecture the same way.
/// </summary>
public static class ReferenceQwen3
{
    public static double[][] Logits(Qwen3Config c, Dictionary<string, (long[] Shape, float[] Values)> w, int[] tokens)
    {
        int t = tokens.Length, h = c.HiddenSize, d = c.HeadDim, nh = c.NumAttentionHeads, nkv = c.NumKeyValueHeads;
        float[] W(string n) => w[n].Values;
        var x = new double[t][];
        for (int i = 0; i < t; i++) x[i] = [.. W("model.embed_tokens.weight").AsSpan(tokens[i] * h, h).ToArray().Select(v => (double)v)];
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string p = $"model.layers.{l}.";
            var normed = x.Select(r => RmsNorm(r, W(p + "input_layernorm.weight"), c.RmsNormEps)).ToArray();
            var q = normed.Select(r => MatVec(W(p + "self_attn.q_proj.weight"), r, nh * d)).ToArray();
            var k = normed.Select(r => MatVec(W(p + "self_attn.k_proj.weight"), r, nkv * d)).ToArray();
            var v = normed.Select(r => MatVec(W(p + "self_attn.v_proj.weight"), r, nkv * d)).ToArray();
            for (int i = 0; i < t; i++)
            {
                for (int hh = 0; hh < nh; hh++) NormRope(q[i], hh * d, d, W(p + "self_attn.q_norm.weight"), c, i);
                for (int hh = 0; hh < nkv; hh++) NormRope(k[i], hh * d, d, W(p + "self_attn.k_norm.weight"), c, i);
            }
            var attn = new double[t][];
            for (int i = 0; i < t; i++)
            {
                attn[i] = new double[nh * d];
                for (int hh = 0; hh < nh; hh++)
                {
                    int kh = hh / (nh / nkv); // GQA: consecutive query heads share one KV head
                    var s = new double[i + 1];
                    for (int j = 0; j <= i; j++)
                    {
                        double dot = 0;
                        for (int e = 0; e < d; e++) dot += q[i][hh * d + e] * k[j][kh * d + e];
                        s[j] = dot / Math.Sqrt(d);
                    }
                    double max = s.Max(), sum = s.Sum(z => Math.Exp(z - max));
                    for (int j = 0; j <= i; j++)
                    {
                        double a = Math.Exp(s[j] - max) / sum;
                        for (int e = 0; e < d; e++) attn[i][hh * d + e] += a * v[j][kh * d + e];
                    }
                }
            }
            for (int i = 0; i < t; i++)
            {
                var o = MatVec(W(p + "self_attn.o_proj.weight"), attn[i], h);
                for (int e = 0; e < h; e++) x[i][e] += o[e];
                var n2 = RmsNorm(x[i], W(p + "post_attention_layernorm.weight"), c.RmsNormEps);
                var g = MatVec(W(p + "mlp.gate_proj.weight"), n2, c.IntermediateSize);
                var u = MatVec(W(p + "mlp.up_proj.weight"), n2, c.IntermediateSize);
                var act = g.Select((gv, idx) => gv / (1 + Math.Exp(-gv)) * u[idx]).ToArray();
                var m = MatVec(W(p + "mlp.down_proj.weight"), act, h);
                for (int e = 0; e < h; e++) x[i][e] += m[e];
            }
        }
        var head = c.TieWordEmbeddings ? W("model.embed_tokens.weight") : W("lm_head.weight");
        return [.. x.Select(r => MatVec(head, RmsNorm(r, W("model.norm.weight"), c.RmsNormEps), c.VocabSize))];
    }

    public static double[] LogSoftmax(double[] logits)
    {
        double max = logits.Max();
        double lse = max + Math.Log(logits.Sum(z => Math.Exp(z - max)));
        return [.. logits.Select(z => z - lse)];
    }

    private static double[] RmsNorm(double[] x, float[] weight, double eps)
    {
        double ms = x.Sum(v => v * v) / x.Length;
        double r = 1 / Math.Sqrt(ms + eps);
        return [.. x.Select((v, i) => v * r * weight[i])];
    }

    private static void NormRope(double[] v, int off, int d, float[] normWeight, Qwen3Config c, int pos)
    {
        double ms = 0;
        for (int e = 0; e < d; e++) ms += v[off + e] * v[off + e];
        double r = 1 / Math.Sqrt(ms / d + c.RmsNormEps);
        var n = new double[d];
        for (int e = 0; e < d; e++) n[e] = v[off + e] * r * normWeight[e];
        int half = d / 2;
        for (int e = 0; e < half; e++)
        {
            double freq = 1 / Math.Pow(c.RopeTheta, 2.0 * e / d);
            double cos = Math.Cos(pos * freq), sin = Math.Sin(pos * freq);
            v[off + e] = n[e] * cos - n[e + half] * sin;
            v[off + e + half] = n[e + half] * cos + n[e] * sin;
        }
    }

    private static double[] MatVec(float[] m, double[] x, int rows)
    {
        var y = new double[rows];
        int cols = x.Length;
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int i = 0; i < cols; i++) s += m[r * cols + i] * x[i];
            y[r] = s;
        }
        return y;
    }
}
