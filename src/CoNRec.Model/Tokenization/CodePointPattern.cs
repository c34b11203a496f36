using System.Globalization;
using System.Text;

namespace CoNRec.Model.Tokenization;

/// <summary>
/// Rewrites a Hugging Face pre-tokenizer pattern (Oniguruma syntax, matched on Unicode code points) into a .NET
/// pattern that makes the same matches on UTF-16 text. A .NET class tests one UTF-16 unit, so untranslated
/// <c>\p{L}</c> never matches an astral letter such as U+1D400 (two surrogates, category Cs each) and
/// <c>[^\s\p{L}\p{N}]</c> matches half of one: " 𝟏𝟐𝟑" would split as " \uD835" + ... instead of " " + "𝟏" + ....
/// <para>
/// Every set (<c>\p{L}</c>, <c>\p{N}</c>, <c>\s</c>, their negations, <c>.</c>, <c>[...]</c>) becomes a group that
/// consumes whole code points: a class for the BMP part, one branch per run of high surrogates followed by a class
/// of the low surrogates allowed after them, and, for sets that include them, unpaired surrogates (which HF never
/// sees: its input is valid UTF-8). Membership comes from <see cref="UnicodeClassData"/>, probed from HF's own
/// engine, not from .NET's Unicode tables, so both agree on every code point. Case-insensitive groups become
/// explicit classes with Unicode simple case folding: HF's <c>(?i:'s)</c> also matches "'ſ" (U+017F), .NET's
/// IgnoreCase does not.
/// </para>
/// Returns null for anything outside this subset (e.g. <c>\d</c>, <c>\w</c>, <c>^</c>, backreferences, possessive
/// quantifiers, non-ASCII literals under <c>(?i)</c>); the caller then compiles the pattern unchanged, as before.
/// The patterns of GPT-2, Qwen2/Qwen3 and Llama 3 are inside the subset.
/// </summary>
internal static class CodePointPattern
{
    private const int MaxCodePoint = 0x10FFFF;

    private static readonly CpRange[] Letter = FromPairs(UnicodeClassData.Letter);
    private static readonly CpRange[] Number = FromPairs(UnicodeClassData.Number);
    private static readonly CpRange[] WhiteSpace = FromPairs(UnicodeClassData.WhiteSpace);
    private static readonly CpRange[] NotLineFeed = Complement([new CpRange('\n', '\n')]);

    /// <summary>The .NET pattern, or null when <paramref name="pattern"/> uses a construct this translation does not cover.</summary>
    public static string? Translate(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var translator = new Translator(pattern);
        return translator.Run() ? translator.Result : null;
    }

    /// <summary>Inclusive code point range.</summary>
    private readonly record struct CpRange(int Lo, int Hi);

    private static CpRange[] FromPairs(int[] pairs)
    {
        var ranges = new List<CpRange>(pairs.Length / 2);
        for (int i = 0; i + 1 < pairs.Length; i += 2) ranges.Add(new CpRange(pairs[i], pairs[i + 1]));
        return Normalize(ranges);
    }

    /// <summary>Sorted, disjoint, non-adjacent ranges.</summary>
    private static CpRange[] Normalize(List<CpRange> ranges)
    {
        ranges.Sort((a, b) => a.Lo.CompareTo(b.Lo));
        var merged = new List<CpRange>(ranges.Count);
        foreach (var r in ranges)
        {
            int last = merged.Count - 1;
            if (last >= 0 && r.Lo <= merged[last].Hi + 1)
            {
                if (r.Hi > merged[last].Hi) merged[last] = new CpRange(merged[last].Lo, r.Hi);
            }
            else
            {
                merged.Add(r);
            }
        }
        return merged.ToArray();
    }

    /// <summary>All code points (U+0000..U+10FFFF, surrogates included) not in <paramref name="set"/>, which must be normalized.</summary>
    private static CpRange[] Complement(CpRange[] set)
    {
        var result = new List<CpRange>(set.Length + 1);
        int next = 0;
        foreach (var r in set)
        {
            if (r.Lo > next) result.Add(new CpRange(next, r.Lo - 1));
            next = r.Hi + 1;
        }
        if (next <= MaxCodePoint) result.Add(new CpRange(next, MaxCodePoint));
        return result.ToArray();
    }

    private static void AppendUnit(StringBuilder sb, int unit)
    {
        const string Hex = "0123456789ABCDEF";
        sb.Append('\\').Append('u')
            .Append(Hex[(unit >> 12) & 0xF]).Append(Hex[(unit >> 8) & 0xF]).Append(Hex[(unit >> 4) & 0xF]).Append(Hex[unit & 0xF]);
    }

    private static void AppendUnitRange(StringBuilder sb, int lo, int hi)
    {
        AppendUnit(sb, lo);
        if (hi == lo) return;
        sb.Append('-');
        AppendUnit(sb, hi);
    }

    /// <summary>A .NET construct matching exactly one code point of <paramref name="set"/> (normalized), never half a surrogate pair.</summary>
    private static void AppendSet(StringBuilder sb, CpRange[] set)
    {
        var bmp = new StringBuilder();
        var lowsByBlock = new SortedDictionary<int, StringBuilder>(); // high surrogate - U+D800 → class of low surrogates
        bool loneHigh = false, loneLow = false;
        foreach (var r in set)
        {
            if (r.Lo <= 0xD7FF) AppendUnitRange(bmp, r.Lo, Math.Min(r.Hi, 0xD7FF));
            if (r.Hi >= 0xE000 && r.Lo <= 0xFFFF) AppendUnitRange(bmp, Math.Max(r.Lo, 0xE000), Math.Min(r.Hi, 0xFFFF));
            if (r.Lo <= 0xDBFF && r.Hi >= 0xD800) loneHigh = true;
            if (r.Lo <= 0xDFFF && r.Hi >= 0xDC00) loneLow = true;
            for (int a = Math.Max(r.Lo, 0x10000); a <= r.Hi;)
            {
                int block = (a - 0x10000) >> 10;
                int b = Math.Min(r.Hi, 0x10000 + (block << 10) + 0x3FF);
                if (!lowsByBlock.TryGetValue(block, out var lows)) lowsByBlock[block] = lows = new StringBuilder();
                AppendUnitRange(lows, 0xDC00 + ((a - 0x10000) & 0x3FF), 0xDC00 + ((b - 0x10000) & 0x3FF));
                a = b + 1;
            }
        }

        var parts = new List<string>();
        if (bmp.Length > 0) parts.Add("[" + bmp + "]");
        // Consecutive high surrogates allowing the same low surrogates share one branch: [\uD840-\uD868][\uDC00-\uDFFF].
        int runFirst = -1, runLast = -1;
        string runLows = "";
        foreach (var (block, lows) in lowsByBlock)
        {
            string l = lows.ToString();
            if (runFirst >= 0 && block == runLast + 1 && l == runLows)
            {
                runLast = block;
                continue;
            }
            if (runFirst >= 0) parts.Add(AstralBranch(runFirst, runLast, runLows));
            (runFirst, runLast, runLows) = (block, block, l);
        }
        if (runFirst >= 0) parts.Add(AstralBranch(runFirst, runLast, runLows));
        if (loneHigh) parts.Add(@"[\uD800-\uDBFF](?![\uDC00-\uDFFF])");
        if (loneLow) parts.Add(@"(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]");

        if (parts.Count == 0) sb.Append("(?!)");
        else if (parts.Count == 1 && bmp.Length > 0) sb.Append(parts[0]);
        else sb.Append("(?:").AppendJoin('|', parts).Append(')');
    }

    private static string AstralBranch(int firstBlock, int lastBlock, string lows)
    {
        var sb = new StringBuilder();
        if (firstBlock == lastBlock)
        {
            AppendUnit(sb, 0xD800 + firstBlock);
        }
        else
        {
            sb.Append('[');
            AppendUnitRange(sb, 0xD800 + firstBlock, 0xD800 + lastBlock);
            sb.Append(']');
        }
        return sb.Append('[').Append(lows).Append(']').ToString();
    }

    /// <summary>One pass over the pattern; every method returns false for a construct outside the subset.</summary>
    private sealed class Translator(string pattern)
    {
        private readonly StringBuilder _out = new();
        private readonly Stack<bool> _groups = new(); // IgnoreCase in force where each open group began
        private int _i;
        private bool _ignoreCase;
        private char _lastFolded; // previous atom, when it was an ASCII letter under (?i): multi-character folds

        public string Result => _out.ToString();

        public bool Run()
        {
            while (_i < pattern.Length)
            {
                char last = _lastFolded;
                _lastFolded = '\0';
                bool ok = pattern[_i] switch
                {
                    '\\' => Escape(),
                    '[' => Class(),
                    '.' => Dot(),
                    '(' => OpenGroup(),
                    ')' => CloseGroup(),
                    '|' => Alternation(),
                    '*' or '+' or '?' => Quantifier(_i + 1),
                    '{' => Brace(),
                    '^' or '$' => false, // line anchors in Oniguruma, string anchors in .NET
                    _ => Literal(last),
                };
                if (!ok) return false;
            }
            return _groups.Count == 0;
        }

        private bool Alternation()
        {
            _out.Append('|');
            _i++;
            return true;
        }

        private bool Dot()
        {
            AppendSet(_out, NotLineFeed);
            _i++;
            return true;
        }

        private bool OpenGroup()
        {
            if (_i + 1 >= pattern.Length || pattern[_i + 1] != '?')
            {
                _groups.Push(_ignoreCase);
                _out.Append('(');
                _i++;
                return true;
            }
            int j = _i + 2;
            if (j >= pattern.Length) return false;
            char kind = pattern[j];
            if (kind is ':' or '=' or '!' or '>')
            {
                _groups.Push(_ignoreCase);
                _out.Append('(').Append('?').Append(kind);
                _i = j + 1;
                return true;
            }
            if (kind == '<' && j + 1 < pattern.Length && (pattern[j + 1] is '=' or '!'))
            {
                _groups.Push(_ignoreCase);
                _out.Append("(?<").Append(pattern[j + 1]);
                _i = j + 2;
                return true;
            }
            // Inline options: only i (and -i) is supported; m and x mean other things in Oniguruma than in .NET.
            bool on = true, ignoreCase = _ignoreCase, any = false;
            while (j < pattern.Length && (pattern[j] is 'i' or '-'))
            {
                if (pattern[j] == '-')
                {
                    if (!on) return false;
                    on = false;
                }
                else
                {
                    ignoreCase = on;
                }
                any = true;
                j++;
            }
            if (!any || j >= pattern.Length) return false;
            if (pattern[j] == ':')
            {
                _groups.Push(_ignoreCase);
                _ignoreCase = ignoreCase;
                _out.Append("(?:");
                _i = j + 1;
                return true;
            }
            if (pattern[j] == ')')
            {
                _ignoreCase = ignoreCase; // to the end of the enclosing group
                _i = j + 1;
                return true;
            }
            return false;
        }

        private bool CloseGroup()
        {
            if (_groups.Count == 0) return false;
            _ignoreCase = _groups.Pop();
            _out.Append(')');
            _i++;
            return true;
        }

        /// <summary>After *, + or ? (at <paramref name="end"/>): a lazy ? is kept, a possessive + (Oniguruma only) is refused.</summary>
        private bool Quantifier(int end)
        {
            _out.Append(pattern, _i, end - _i);
            _i = end;
            if (_i < pattern.Length && pattern[_i] == '+') return false;
            if (_i < pattern.Length && pattern[_i] == '?')
            {
                _out.Append('?');
                _i++;
            }
            return true;
        }

        /// <summary>{n}, {n,}, {n,m} and Oniguruma's {,m}; any other '{' is a literal, as in Oniguruma.</summary>
        private bool Brace()
        {
            int j = _i + 1;
            int minStart = j;
            while (j < pattern.Length && char.IsAsciiDigit(pattern[j])) j++;
            int minLength = j - minStart;
            bool comma = j < pattern.Length && pattern[j] == ',';
            int maxStart = comma ? j + 1 : j;
            if (comma) j++;
            while (comma && j < pattern.Length && char.IsAsciiDigit(pattern[j])) j++;
            int maxLength = comma ? j - maxStart : 0;
            bool valid = j < pattern.Length && pattern[j] == '}' && (minLength > 0 || maxLength > 0);
            if (!valid)
            {
                AppendUnit(_out, '{');
                _i++;
                return true;
            }
            _out.Append('{');
            if (minLength == 0) _out.Append('0');
            else _out.Append(pattern, minStart, minLength);
            if (comma) _out.Append(',').Append(pattern, maxStart, maxLength);
            _i = j; // at '}', which Quantifier copies
            return Quantifier(j + 1);
        }

        private bool Escape()
        {
            if (_i + 1 >= pattern.Length) return false;
            char e = pattern[_i + 1];
            switch (e)
            {
                case 'p' or 'P':
                    if (_ignoreCase || !ReadProperty(out var property)) return false;
                    AppendSet(_out, property);
                    return true;
                case 's' or 'S':
                    AppendSet(_out, e == 's' ? WhiteSpace : Complement(WhiteSpace));
                    _i += 2;
                    return true;
                case 'r' or 'n' or 't' or 'f' or 'v' or 'a' or 'e':
                    _out.Append('\\').Append(e);
                    _i += 2;
                    return true;
                case 'x' or 'u':
                    return ReadHexEscape(out int cp) && EmitLiteral(cp, '\0');
                default:
                    if (char.IsAsciiLetterOrDigit(e)) return false; // \d \w \b \A \z \k<..> \1 ...: not translated
                    _i++;
                    return ReadCodePoint(out int escaped) && EmitLiteral(escaped, '\0');
            }
        }

        private bool Literal(char last) => ReadCodePoint(out int cp) && EmitLiteral(cp, last);

        private bool EmitLiteral(int cp, char last)
        {
            if (_ignoreCase && cp < 0x80 && char.IsAsciiLetter((char)cp))
            {
                char lower = char.ToLowerInvariant((char)cp);
                // Oniguruma folds "ss" to ß, "st" to ﬅ/ﬆ, "ff"/"fi"/"fl" to ligatures; not expressible per character.
                if ((last, lower) is ('s', 's') or ('s', 't') or ('f', 'f') or ('f', 'i') or ('f', 'l')) return false;
                switch (lower)
                {
                    case 's':
                        _out.Append(@"[Ss\u017F]"); // ſ LATIN SMALL LETTER LONG S folds to s
                        break;
                    case 'k':
                        _out.Append(@"[Kk\u212A]"); // KELVIN SIGN folds to k
                        break;
                    default:
                        _out.Append('[').Append(char.ToUpperInvariant(lower)).Append(lower).Append(']');
                        break;
                }
                _lastFolded = lower;
                return true;
            }
            if (_ignoreCase && cp >= 0x80) return false; // case folding beyond ASCII is not tabulated here
            if (cp > 0xFFFF)
            {
                string pair = char.ConvertFromUtf32(cp);
                _out.Append("(?:");
                AppendUnit(_out, pair[0]);
                AppendUnit(_out, pair[1]);
                _out.Append(')');
            }
            else if (char.IsAsciiLetterOrDigit((char)cp))
            {
                _out.Append((char)cp);
            }
            else
            {
                AppendUnit(_out, cp);
            }
            return true;
        }

        /// <summary>One code point at _i (a surrogate pair counts as one); false for an unpaired surrogate.</summary>
        private bool ReadCodePoint(out int cp)
        {
            cp = 0;
            if (_i >= pattern.Length) return false;
            char c = pattern[_i];
            if (char.IsHighSurrogate(c))
            {
                if (_i + 1 >= pattern.Length || !char.IsLowSurrogate(pattern[_i + 1])) return false;
                cp = char.ConvertToUtf32(c, pattern[_i + 1]);
                _i += 2;
                return true;
            }
            if (char.IsLowSurrogate(c)) return false;
            cp = c;
            _i++;
            return true;
        }

        /// <summary>\xHH, \x{H..} or \uHHHH at _i; false for a surrogate or out-of-range value.</summary>
        private bool ReadHexEscape(out int cp)
        {
            cp = 0;
            int j = _i + 2;
            ReadOnlySpan<char> digits;
            int end;
            if (pattern[_i + 1] == 'x' && j < pattern.Length && pattern[j] == '{')
            {
                int close = pattern.IndexOf('}', j);
                if (close < 0 || close - j - 1 is < 1 or > 8) return false;
                digits = pattern.AsSpan(j + 1, close - j - 1);
                end = close + 1;
            }
            else
            {
                int count = pattern[_i + 1] == 'x' ? 2 : 4;
                if (j + count > pattern.Length) return false;
                digits = pattern.AsSpan(j, count);
                end = j + count;
            }
            if (!int.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out cp)) return false;
            if (cp is < 0 or > MaxCodePoint or (>= 0xD800 and <= 0xDFFF)) return false;
            _i = end;
            return true;
        }

        /// <summary>\p{L}, \p{N}, \P{..}, \p{^..} at _i.</summary>
        private bool ReadProperty(out CpRange[] set)
        {
            set = [];
            bool negate = pattern[_i + 1] == 'P';
            int j = _i + 2;
            if (j >= pattern.Length || pattern[j] != '{') return false;
            int close = pattern.IndexOf('}', j);
            if (close < 0) return false;
            var name = pattern.AsSpan(j + 1, close - j - 1);
            if (name.Length > 0 && name[0] == '^')
            {
                negate = !negate;
                name = name[1..];
            }
            CpRange[] baseSet;
            if (name is "L" or "Letter") baseSet = Letter;
            else if (name is "N" or "Number") baseSet = Number;
            else return false;
            set = negate ? Complement(baseSet) : baseSet;
            _i = close + 1;
            return true;
        }

        /// <summary>[...] and [^...] of single characters, ranges, \p{L}, \p{N}, \s and their negations.</summary>
        private bool Class()
        {
            if (_ignoreCase) return false;
            _i++;
            bool negate = _i < pattern.Length && pattern[_i] == '^';
            if (negate) _i++;
            var items = new List<CpRange>();
            bool first = true;
            while (true)
            {
                if (_i >= pattern.Length) return false;
                char c = pattern[_i];
                if (c == ']' && !first)
                {
                    _i++;
                    break;
                }
                // Nested classes, POSIX brackets and intersections have no per-item meaning here.
                if (c == '[' || (c == '&' && _i + 1 < pattern.Length && pattern[_i + 1] == '&')) return false;
                first = false;
                if (!ClassAtom(items, out int lo)) return false;
                if (lo < 0) continue; // a set (\p{L}, \s, ...) cannot start a range
                if (_i + 1 < pattern.Length && pattern[_i] == '-' && pattern[_i + 1] != ']')
                {
                    _i++;
                    if (pattern[_i] == '[' || !ClassAtom(items, out int hi) || hi < lo) return false;
                    items.Add(new CpRange(lo, hi));
                }
                else
                {
                    items.Add(new CpRange(lo, lo));
                }
            }
            var set = Normalize(items);
            AppendSet(_out, negate ? Complement(set) : set);
            return true;
        }

        /// <summary>One item of a class at _i: a single code point (returned) or a set added to <paramref name="items"/> (returns -1).</summary>
        private bool ClassAtom(List<CpRange> items, out int cp)
        {
            cp = -1;
            if (pattern[_i] != '\\') return ReadCodePoint(out cp);
            if (_i + 1 >= pattern.Length) return false;
            char e = pattern[_i + 1];
            switch (e)
            {
                case 'p' or 'P':
                    if (!ReadProperty(out var property)) return false;
                    items.AddRange(property);
                    return true;
                case 's' or 'S':
                    items.AddRange(e == 's' ? WhiteSpace : Complement(WhiteSpace));
                    _i += 2;
                    return true;
                case 'x' or 'u':
                    return ReadHexEscape(out cp);
            }
            int control = e switch
            {
                'r' => '\r',
                'n' => '\n',
                't' => '\t',
                'f' => '\f',
                'v' => '\v',
                'a' => 0x07,
                'e' => 0x1B,
                'b' => 0x08, // backspace inside a class, in both engines
                _ => -1,
            };
            if (control >= 0)
            {
                cp = control;
                _i += 2;
                return true;
            }
            if (char.IsAsciiLetterOrDigit(e)) return false; // \d \w \h ...: not translated
            _i++;
            return ReadCodePoint(out cp);
        }
    }
}
