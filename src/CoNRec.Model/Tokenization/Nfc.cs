using System.Text;

namespace CoNRec.Model.Tokenization;

/// <summary>
/// Unicode NFC in managed code (UAX #15: canonical decomposition, canonical ordering, canonical composition).
/// The product runs with InvariantGlobalization, where <see cref="string.Normalize()"/> silently returns its input,
/// so HF's NFC normalizer cannot be delegated to the BCL. Tables: <see cref="NfcData"/>.
/// </summary>
internal static class Nfc
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, (int Start, int Length)> Decomp = BuildDecomp();
    private static readonly Dictionary<int, int> Ccc = BuildCcc();
    private static readonly Dictionary<long, int> Compose = BuildCompose();

    public static string Normalize(string s)
    {
        // Below U+0300 nothing decomposes, combines or reorders (asserted by the table generator).
        int i = 0;
        while (i < s.Length && s[i] < 0x300) i++;
        if (i == s.Length) return s;

        var cps = new List<int>(s.Length + 8);
        for (int k = 0; k < s.Length; k++)
        {
            int cp = s[k];
            if (char.IsHighSurrogate(s[k]) && k + 1 < s.Length && char.IsLowSurrogate(s[k + 1]))
                cp = char.ConvertToUtf32(s[k], s[++k]);
            Decompose(cp, cps);
        }
        Reorder(cps);
        ComposeInPlace(cps);

        var sb = new StringBuilder(s.Length);
        foreach (int cp in cps)
        {
            // Lone surrogates pass through unchanged, as HF does with invalid input it was given.
            if (cp is >= 0xD800 and <= 0xDFFF) sb.Append((char)cp);
            else sb.Append(char.ConvertFromUtf32(cp));
        }
        string result = sb.ToString();
        return result == s ? s : result;
    }

    private static int CombiningClass(int cp) => Ccc.TryGetValue(cp, out int c) ? c : 0;

    private static void Decompose(int cp, List<int> output)
    {
        int sIndex = cp - SBase;
        if (sIndex is >= 0 and < SCount)
        {
            output.Add(LBase + sIndex / NCount);
            output.Add(VBase + sIndex % NCount / TCount);
            if (sIndex % TCount != 0) output.Add(TBase + sIndex % TCount);
            return;
        }
        if (Decomp.TryGetValue(cp, out var range))
        {
            for (int j = 0; j < range.Length; j++) output.Add(NfcData.Decompositions[range.Start + j]);
            return;
        }
        output.Add(cp);
    }

    // Stable sort of each run of non-starters by combining class.
    private static void Reorder(List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int cc = CombiningClass(cps[i]);
            if (cc == 0) continue;
            int j = i;
            while (j > 0 && CombiningClass(cps[j - 1]) > cc)
            {
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
                j--;
            }
        }
    }

    private static void ComposeInPlace(List<int> cps)
    {
        var output = new List<int>(cps.Count);
        int starter = -1;
        foreach (int cp in cps)
        {
            int cc = CombiningClass(cp);
            if (starter >= 0)
            {
                // Blocked when something between the starter and cp has class 0 or >= cp's class.
                bool adjacent = output.Count - 1 == starter;
                int lastCc = adjacent ? -1 : CombiningClass(output[^1]);
                if ((adjacent || (lastCc != 0 && lastCc < cc)) && TryCompose(output[starter], cp, out int composite))
                {
                    output[starter] = composite;
                    continue;
                }
            }
            if (cc == 0) starter = output.Count;
            output.Add(cp);
        }
        cps.Clear();
        cps.AddRange(output);
    }

    private static bool TryCompose(int first, int second, out int composite)
    {
        int lIndex = first - LBase, vIndex = second - VBase;
        if (lIndex is >= 0 and < LCount && vIndex is >= 0 and < VCount)
        {
            composite = SBase + (lIndex * VCount + vIndex) * TCount;
            return true;
        }
        int sIndex = first - SBase, tIndex = second - TBase;
        if (sIndex is >= 0 and < SCount && sIndex % TCount == 0 && tIndex is > 0 and < TCount)
        {
            composite = first + tIndex;
            return true;
        }
        return Compose.TryGetValue(((long)first << 21) | (uint)second, out composite);
    }

    private static Dictionary<int, (int, int)> BuildDecomp()
    {
        var d = NfcData.Decompositions;
        var map = new Dictionary<int, (int, int)>(2100);
        for (int i = 0; i < d.Length; i += 2 + d[i + 1]) map[d[i]] = (i + 2, d[i + 1]);
        return map;
    }

    private static Dictionary<int, int> BuildCcc()
    {
        var c = NfcData.CombiningClasses;
        var map = new Dictionary<int, int>(c.Length / 2);
        for (int i = 0; i < c.Length; i += 2) map[c[i]] = c[i + 1];
        return map;
    }

    private static Dictionary<long, int> BuildCompose()
    {
        var c = NfcData.Compositions;
        var map = new Dictionary<long, int>(c.Length / 3);
        for (int i = 0; i < c.Length; i += 3) map[((long)c[i] << 21) | (uint)c[i + 1]] = c[i + 2];
        return map;
    }
}
