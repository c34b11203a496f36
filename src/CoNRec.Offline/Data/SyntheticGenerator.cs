using System.Globalization;

namespace CoNRec.Offline.Data;

/// <summary>
/// A deterministic synthetic interaction dataset whose negatives have a known, hierarchical cause.
/// <para>Generative story (all draws from one <see cref="Random"/> seeded with <see cref="SyntheticSpec.Seed"/>, in a fixed order,
/// so the same spec always gives byte-identical files):</para>
/// <list type="number">
/// <item>A category tree of T top categories × S sub-categories × L leaves, paths "c2/c2.1/c2.1.0".</item>
/// <item>Vocabularies of made-up words: one per leaf, per sub-category and per top category, plus shared words.</item>
/// <item>Items: item j is put in leaf j (the first T·S·L items, so every leaf is populated) or a uniform leaf. Its title mixes
/// 1–2 leaf words, a sub-category word (p=0.8), a top-category word (p=0.3) and 1–2 shared words, shuffled, so text carries
/// the category signal at every level. Its price is log-normal around a top-category mean. Its popularity is Zipf-like in a
/// random rank: weight 1/rank^s.</item>
/// <item>Users: 1–3 latent negative areas (a leaf, or with some probability a whole sub-category; they may lie inside liked
/// categories, the fine-grained case the hierarchical SIDs exist for), 2–3 liked sub-categories, and an activity level
/// (log-normal, mean 1).</item>
/// <item>Days: a user is active with probability p; an active day has Poisson(rate/p·activity) exposures split into sessions
/// of up to six, each session at a random time of day with 10–180 s between exposures. Each exposure is drawn from a liked
/// sub-category (InterestBias) or from the global popularity; an item already shown to the user is not shown again.</item>
/// <item>Feedback: an exposure in a disliked area is negative with high probability (else nothing); elsewhere it is a rare
/// noise negative, or positive (click 70%, favorite 15%, purchase 15%) with a probability that is higher in liked areas, or
/// nothing. Exposures without feedback are not recorded. Negative reasons are drawn independently of the cause, so they do not
/// leak the latent area.</item>
/// </list>
/// With the defaults roughly 10% of recorded interactions are negative, as sparse as in the paper's datasets.
/// <para><b>Attributes model</b> (the default, <see cref="SyntheticModel.Attributes"/>): items also carry 0–2 attributes drawn
/// independently of their category and named in their title, and a broad style category besides their leaf. A user's
/// dislikes are mostly attributes, anywhere or within one top category (the paper's Figure 1: bulky shoes and bulky
/// slippers, wired headphones but not all audio), sometimes a leaf; liked items share those categories. Blocking whole
/// categories then removes many liked items, as on real data. <see cref="SyntheticModel.Categories"/> keeps the earlier
/// story (whole leaves disliked) and its exact draws.</para>
/// </summary>
public static class SyntheticGenerator
{
    private const int SessionSize = 6;
    private const int SecondsPerDay = 86400;
    private static readonly string[] Reasons = ["not_interested", "dislike", "irrelevant"];
    private static readonly string Consonants = "bdfgklmnprstvz";
    private static readonly string Vowels = "aeiou";

    public static InteractionDataset Generate(SyntheticSpec spec) => GenerateWithTruth(spec).Dataset;

    public static SyntheticResult GenerateWithTruth(SyntheticSpec spec)
    {
        spec.Validate();
        var rng = new Random(spec.Seed);
        int tops = spec.TopCategories, subsPerTop = spec.SubCategories, leavesPerSub = spec.Leaves;
        int subs = tops * subsPerTop, leaves = subs * leavesPerSub;

        var words = new HashSet<string>(StringComparer.Ordinal);
        string[] Vocabulary(int n) => [.. Enumerable.Range(0, n).Select(_ => NewWord(rng, words))];
        var shared = Vocabulary(spec.SharedWords);
        var topWords = Enumerable.Range(0, tops).Select(_ => Vocabulary(spec.WordsPerTopCategory)).ToArray();
        var subWords = Enumerable.Range(0, subs).Select(_ => Vocabulary(spec.WordsPerSubCategory)).ToArray();
        var leafWords = Enumerable.Range(0, leaves).Select(_ => Vocabulary(spec.WordsPerLeaf)).ToArray();
        bool attributesModel = spec.Model == SyntheticModel.Attributes;
        var attributeWords = attributesModel ? Enumerable.Range(0, spec.Attributes).Select(_ => Vocabulary(spec.WordsPerAttribute)).ToArray() : [];
        // Top categories differ in price level (e.g. books vs. electronics), so the numbers carry a weak category signal too.
        var logPrice = Enumerable.Range(0, tops).Select(_ => Math.Log(5) + 3 * rng.NextDouble()).ToArray();

        string SubPath(int sub) => $"c{sub / subsPerTop}/c{sub / subsPerTop}.{sub % subsPerTop}";
        string LeafPath(int leaf) => $"{SubPath(leaf / leavesPerSub)}/c{leaf / leavesPerSub / subsPerTop}.{leaf / leavesPerSub % subsPerTop}.{leaf % leavesPerSub}";

        // Items.
        int n = spec.Items;
        var itemLeaf = new int[n];
        var items = new ItemFeatures[n];
        var itemAttributes = new int[n][];
        for (int j = 0; j < n; j++)
        {
            int leaf = j < leaves ? j : rng.Next(leaves);
            int sub = leaf / leavesPerSub, top = sub / subsPerTop;
            itemLeaf[j] = leaf;
            var title = new List<string>();
            int leafCount = 1 + rng.Next(2);
            for (int k = 0; k < leafCount; k++) title.Add(Pick(rng, leafWords[leaf]));
            if (rng.NextDouble() < 0.8) title.Add(Pick(rng, subWords[sub]));
            if (rng.NextDouble() < 0.3) title.Add(Pick(rng, topWords[top]));
            int sharedCount = 1 + rng.Next(2);
            for (int k = 0; k < sharedCount; k++) title.Add(Pick(rng, shared));
            // Attributes model: 0–2 attributes drawn independently of the category (they cut across it), each named in the
            // title; and a broad style category besides the leaf, as films have genres besides their subject.
            var attributes = new List<int>();
            string? style = null;
            if (attributesModel)
            {
                if (rng.NextDouble() < spec.AttributeProbability)
                {
                    attributes.Add(rng.Next(spec.Attributes));
                    if (rng.NextDouble() < spec.SecondAttributeProbability)
                    {
                        int second = rng.Next(spec.Attributes);
                        if (second != attributes[0]) attributes.Add(second);
                    }
                }
                foreach (var a in attributes) title.Add(Pick(rng, attributeWords[a]));
                style = $"s{rng.Next(spec.Styles)}";
            }
            itemAttributes[j] = [.. attributes];
            Shuffle(rng, title);
            double price = Math.Round(Math.Exp(logPrice[top] + 0.5 * Gaussian(rng)), 2);
            items[j] = new ItemFeatures($"i{j}", string.Join(' ', title.Select(Capitalise)), style is null ? [LeafPath(leaf)] : [LeafPath(leaf), style],
                new Dictionary<string, double>(StringComparer.Ordinal) { ["price"] = price });
        }

        // Popularity: a random rank per item, weight 1/rank^s; samplers over all items and over each sub-category.
        var rank = Enumerable.Range(1, n).ToArray();
        Shuffle(rng, rank);
        var weight = rank.Select(r => Math.Pow(r, -spec.PopularityExponent)).ToArray();
        var global = new Sampler(Enumerable.Range(0, n).ToArray(), weight);
        var bySub = Enumerable.Range(0, subs).Select(s => new List<int>()).ToArray();
        for (int j = 0; j < n; j++) bySub[itemLeaf[j] / leavesPerSub].Add(j);
        var subSampler = bySub.Select(list => list.Count == 0 ? null : new Sampler([.. list], weight)).ToArray();

        // Users and their days.
        var users = new Dictionary<string, SyntheticUser>(StringComparer.Ordinal);
        var interactions = new List<Interaction>();
        double rate = spec.ExposuresPerUserPerDay / spec.ActiveDayProbability;
        var disliked = new bool[leaves];
        for (int u = 0; u < spec.Users; u++)
        {
            string userId = $"u{u}";
            Array.Clear(disliked);
            var negativeAreas = new List<string>();
            var aversions = new List<AttributeAversion>();
            int negCount = rng.Next(spec.MinNegativeAreas, spec.MaxNegativeAreas + 1);
            for (int a = 0; a < negCount; a++)
            {
                double kind = attributesModel ? rng.NextDouble() : 1;
                if (kind < spec.GlobalAttributeAversionProbability)
                {
                    var aversion = new AttributeAversion(rng.Next(spec.Attributes), null);
                    if (!aversions.Contains(aversion)) aversions.Add(aversion);
                }
                else if (kind < spec.GlobalAttributeAversionProbability + spec.ScopedAttributeAversionProbability)
                {
                    var aversion = new AttributeAversion(rng.Next(spec.Attributes), $"c{rng.Next(tops)}");
                    if (!aversions.Contains(aversion)) aversions.Add(aversion);
                }
                else if (rng.NextDouble() < spec.SubCategoryNegativeProbability)
                {
                    int sub = rng.Next(subs);
                    if (negativeAreas.Contains(SubPath(sub))) continue;
                    negativeAreas.Add(SubPath(sub));
                    for (int l = 0; l < leavesPerSub; l++) disliked[sub * leavesPerSub + l] = true;
                }
                else
                {
                    int leaf = rng.Next(leaves);
                    if (disliked[leaf]) continue;
                    negativeAreas.Add(LeafPath(leaf));
                    disliked[leaf] = true;
                }
            }
            var liked = new List<int>();
            int posCount = Math.Min(subs, rng.Next(spec.MinPositiveAreas, spec.MaxPositiveAreas + 1));
            while (liked.Count < posCount)
            {
                int sub = rng.Next(subs);
                if (!liked.Contains(sub)) liked.Add(sub);
            }
            var likedSubs = liked.Where(s => subSampler[s] is not null).ToArray();
            var user = new SyntheticUser(userId, negativeAreas, [.. liked.Select(SubPath)]) { Aversions = aversions };
            users[userId] = user;
            bool[]? itemDisliked = null;
            if (attributesModel)
            {
                itemDisliked = new bool[n];
                for (int j = 0; j < n; j++) itemDisliked[j] = user.Dislikes(items[j].Categories[0], itemAttributes[j]);
            }

            double activity = Math.Exp(0.5 * Gaussian(rng) - 0.125);
            var seen = new HashSet<int>();
            for (int d = 0; d < spec.Days; d++)
            {
                if (rng.NextDouble() >= spec.ActiveDayProbability) continue;
                int exposures = Poisson(rng, rate * activity);
                long second = 0;
                for (int e = 0; e < exposures; e++)
                {
                    if (e % SessionSize == 0) second = (long)d * SecondsPerDay + rng.Next(SecondsPerDay - 3600);
                    else second += rng.Next(10, 181);
                    bool fromInterest = likedSubs.Length > 0 && rng.NextDouble() < spec.InterestBias;
                    int item = fromInterest ? subSampler[likedSubs[rng.Next(likedSubs.Length)]]!.Next(rng) : global.Next(rng);
                    double r = rng.NextDouble();
                    if (!seen.Add(item)) continue;
                    var ts = spec.Start.AddSeconds(second);
                    int leaf = itemLeaf[item];
                    if (itemDisliked is not null ? itemDisliked[item] : disliked[leaf])
                    {
                        if (r < spec.NegativeInAreaProbability)
                            interactions.Add(new Interaction(userId, items[item].ItemId, ts, FeedbackKind.Negative, Pick(rng, Reasons)));
                        continue;
                    }
                    double pPositive = liked.Contains(leaf / leavesPerSub) ? spec.PositiveInAreaProbability : spec.PositiveElsewhereProbability;
                    if (r < spec.NoiseNegativeProbability)
                        interactions.Add(new Interaction(userId, items[item].ItemId, ts, FeedbackKind.Negative, Pick(rng, Reasons)));
                    else if (r < spec.NoiseNegativeProbability + pPositive)
                    {
                        double k = rng.NextDouble();
                        var kind = k < 0.7 ? FeedbackKind.Click : k < 0.85 ? FeedbackKind.Favorite : FeedbackKind.Purchase;
                        interactions.Add(new Interaction(userId, items[item].ItemId, ts, kind));
                    }
                }
            }
        }
        var name = string.Create(CultureInfo.InvariantCulture, $"synthetic-{spec.Seed}");
        return new SyntheticResult(InteractionDataset.Create(name, items, interactions), users)
        {
            ItemAttributes = Enumerable.Range(0, n).ToDictionary(j => items[j].ItemId, j => (IReadOnlyList<int>)itemAttributes[j], StringComparer.Ordinal),
        };
    }

    private static string NewWord(Random rng, HashSet<string> used)
    {
        while (true)
        {
            int syllables = 2 + rng.Next(2);
            var chars = new char[syllables * 2];
            for (int s = 0; s < syllables; s++)
            {
                chars[2 * s] = Consonants[rng.Next(Consonants.Length)];
                chars[2 * s + 1] = Vowels[rng.Next(Vowels.Length)];
            }
            var word = new string(chars);
            if (used.Add(word)) return word;
        }
    }

    private static string Capitalise(string w) => char.ToUpperInvariant(w[0]) + w[1..];

    private static T Pick<T>(Random rng, IReadOnlyList<T> list) => list[rng.Next(list.Count)];

    private static void Shuffle<T>(Random rng, IList<T> list)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    private static double Gaussian(Random rng)
    {
        // Box–Muller; 1 - NextDouble() is in (0, 1], so the log is finite.
        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private static int Poisson(Random rng, double lambda)
    {
        if (lambda > 30) return Math.Max(0, (int)Math.Round(lambda + Math.Sqrt(lambda) * Gaussian(rng)));
        // Knuth's multiplication method: exact and cheap for the small rates used here.
        double limit = Math.Exp(-lambda), p = 1;
        int k = -1;
        do { k++; p *= rng.NextDouble(); } while (p > limit);
        return k;
    }

    /// <summary>Draws an index from a fixed list with probability proportional to its weight (cumulative sums + binary search).</summary>
    private sealed class Sampler
    {
        private readonly int[] _items;
        private readonly double[] _cumulative;

        public Sampler(int[] items, double[] weightByItem)
        {
            _items = items;
            _cumulative = new double[items.Length];
            double sum = 0;
            for (int i = 0; i < items.Length; i++) _cumulative[i] = sum += weightByItem[items[i]];
        }

        public int Next(Random rng)
        {
            double x = rng.NextDouble() * _cumulative[^1];
            int i = Array.BinarySearch(_cumulative, x);
            if (i < 0) i = ~i;
            return _items[Math.Min(i, _items.Length - 1)];
        }
    }
}
