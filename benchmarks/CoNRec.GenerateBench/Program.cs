using System.Diagnostics;
using CoNRec.Core;
using CoNRec.Model.Checkpoint;
using CoNRec.Model.Generation;
using CoNRec.Model.Qwen3;
using TorchSharp;

// Users/s of constrained beam search on a random Qwen3 (weights do not change the cost), measured in one process so
// the variants compare on the same machine state. Each variant: one warm-up pass, then the median of --runs passes.
// usage: CoNRec.GenerateBench [--shape small|qwen3-0.6b] [--users 64] [--prompt 200] [--beams 20] [--top-k 20]
//        [--batch 16] [--runs 3] [--device cpu|cuda] [--threads N] [--variants batched,single,naive] [--catalog 20000]
var opts = args.Select((a, i) => (a, i)).Where(x => x.a.StartsWith("--", StringComparison.Ordinal))
    .ToDictionary(x => x.a, x => x.i + 1 < args.Length ? args[x.i + 1] : "");
string Opt(string name, string fallback) => opts.TryGetValue(name, out var v) ? v : fallback;
int IntOpt(string name, int fallback) => int.Parse(Opt(name, fallback.ToString()));

string shape = Opt("--shape", "small");
int users = IntOpt("--users", 64), promptLen = IntOpt("--prompt", 200), beams = IntOpt("--beams", 20), topK = IntOpt("--top-k", 20);
int batch = IntOpt("--batch", 16), runs = IntOpt("--runs", 3), catalogSize = IntOpt("--catalog", 20_000);
if (opts.ContainsKey("--threads")) torch.set_num_threads(IntOpt("--threads", 2));
var device = Qwen3Checkpoint.ParseDevice(Opt("--device", "cpu"));
var variants = Opt("--variants", "batched,single,naive").Split(',');

const int Levels = 3, Codes = 256, BaseVocab = 1000;
var config = shape switch
{
    "small" => new Qwen3Config
    {
        VocabSize = BaseVocab + Levels * Codes, HiddenSize = 256, IntermediateSize = 768, NumHiddenLayers = 4,
        NumAttentionHeads = 8, NumKeyValueHeads = 4, HeadDim = 32, TieWordEmbeddings = true,
    },
    "qwen3-0.6b" => new Qwen3Config
    {
        VocabSize = 151_936, HiddenSize = 1024, IntermediateSize = 3072, NumHiddenLayers = 28,
        NumAttentionHeads = 16, NumKeyValueHeads = 8, HeadDim = 128, TieWordEmbeddings = true,
    },
    _ => throw new ArgumentException($"--shape must be small or qwen3-0.6b, not '{shape}'"),
};
int sidBase = config.VocabSize - Levels * Codes;
torch.manual_seed(1);
using var model = new Qwen3ForCausalLM(config);
model.eval();
model.to(Qwen3Checkpoint.DefaultDType(device)).to(device);

var layout = new SidLayout(Levels, Codes);
var rng = new Random(7);
var catalog = Enumerable.Range(0, catalogSize).Select(_ => layout.Pack([(uint)rng.Next(Codes), (uint)rng.Next(Codes), (uint)rng.Next(Codes)])).ToArray();
int[][] tokenIds = [.. Enumerable.Range(0, Levels).Select(l => Enumerable.Range(0, Codes).Select(c => sidBase + l * Codes + c).ToArray())];
using var trie = SidTrie.Build(layout, catalog, tokenIds, config.VocabSize, device);
// Prompt lengths spread ±25% around --prompt, as real histories vary; tokens drawn from text and SID ids alike.
var prompts = Enumerable.Range(0, users).Select(_ => Enumerable.Range(0, (int)(promptLen * (0.75 + 0.5 * rng.NextDouble())))
    .Select(_ => rng.Next(config.VocabSize)).ToArray()).ToArray();

Console.WriteLine($"# generate benchmark {DateTime.UtcNow:yyyy-MM-dd}: shape {shape} ({config.NumHiddenLayers} layers, hidden {config.HiddenSize}, " +
                  $"{config.NumAttentionHeads}/{config.NumKeyValueHeads} heads, vocab {config.VocabSize}), {users} users, prompts ~{promptLen} tokens, " +
                  $"B={beams} K={topK}, catalog {trie.Count} SIDs, device {device}, {torch.get_num_threads()} torch threads, {Environment.ProcessorCount} cores");
Console.WriteLine("| variant | users/s | prefill s | decode s | prompt tok/s | peak RSS MiB | speed-up vs naive |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");

var measured = new List<(string Name, double Rate, PhaseTimings T)>();
foreach (var v in variants)
{
    var options = v switch
    {
        "batched" => new BeamSearchOptions { BeamWidth = beams, TopK = topK, MaxBatchUsers = batch },
        "single" => new BeamSearchOptions { BeamWidth = beams, TopK = topK, MaxBatchUsers = 1 },
        "naive" => new BeamSearchOptions { BeamWidth = beams, TopK = topK, MaxBatchUsers = 1, UseKvCache = false },
        _ => throw new ArgumentException($"unknown variant '{v}'"),
    };
    var search = new ConstrainedBeamSearch(model, trie, options, padTokenId: 0, device);
    search.Generate(prompts.Take(Math.Min(users, options.MaxBatchUsers)).ToArray()); // warm-up: JIT, allocator, thread pool
    var samples = new List<(double Seconds, PhaseTimings T)>();
    for (int r = 0; r < runs; r++)
    {
        var t = new PhaseTimings();
        search.Timings = t;
        var sw = Stopwatch.StartNew();
        var result = search.Generate(prompts);
        samples.Add((sw.Elapsed.TotalSeconds, t));
        if (result.Any(x => x.Length != topK)) throw new InvalidOperationException("a user got fewer SIDs than top-k");
    }
    var median = samples.OrderBy(s => s.Seconds).ElementAt(samples.Count / 2);
    double rate = users / median.Seconds;
    measured.Add((v, rate, median.T));
    double naive = measured.FirstOrDefault(m => m.Name == "naive").Rate;
    long rss = Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024);
    Console.WriteLine($"| {v}{(v == "batched" ? $" ({batch}/batch)" : "")} | {rate:F1} | {median.T.Prefill.TotalSeconds:F2} | {median.T.Decode.TotalSeconds:F2} | " +
                      $"{median.T.PromptTokens / median.Seconds:F0} | {rss} | {(naive > 0 ? $"{rate / naive:F1}×" : "-")} |");
}
var byName = measured.ToDictionary(m => m.Name, m => m.Rate);
if (byName.TryGetValue("naive", out var n) && n > 0)
    Console.WriteLine($"\nspeed-up over the naive per-user, no-KV-cache loop: " +
                      string.Join(", ", measured.Where(m => m.Name != "naive").Select(m => $"{m.Name} {m.Rate / n:F1}×")));
if (device.type == DeviceType.CUDA) Console.WriteLine($"peak GPU memory: see nvidia-smi (TorchSharp exposes no allocator statistics)");
