using System.Diagnostics;
using CoNRec.Core;
using CoNRec.Model.Checkpoint;
using CoNRec.Model.Generation;
using CoNRec.Model.Lora;
using CoNRec.Model.Prompting;
using CoNRec.Model.Qwen3;
using CoNRec.Model.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.Training;

/// <summary>
/// Supervised fine-tuning of a small Qwen3 trained from scratch on SID prompts (CPU, TorchSharp), with the paper's
/// item-level alignment task mixed in and the progressive context schedule (recent negatives → all negatives →
/// negatives and positives). Writes a complete generator bundle: <c>model/</c> (HF checkpoint + tokenizer),
/// <c>codebook.safetensors</c>, <c>catalog.jsonl</c>, <c>bundle.json</c> and <c>training.json</c>.
/// <para>
/// Each <see cref="SftExample"/> yields one teacher-forced sequence per catalog target (up to
/// <see cref="FineTuneOptions.MaxTargetsPerExample"/>), all sharing the prompt: the loss is the cross-entropy of
/// the L SID tokens only, so the model learns a distribution over next items rather than one arbitrary order.
/// </para>
/// </summary>
public static class FineTuner
{
    /// <summary>Compact prompt: SID tokens are special tokens, so no separator and no words are needed; short prompts train fast.</summary>
    public const string PromptText = "<|im_start|>{negatives}{positives_clause}<|im_end|>";
    public const string PositivesClause = "+{positives}";
    /// <summary>Alignment prompts start with '?' after <c>&lt;|im_start|&gt;</c>, so the model can tell the two tasks apart.</summary>
    public const string AlignmentPrefix = SidTokenizerWriter.ImStart + "?";

    public const string ModelDirectory = "model";
    public const string CodebookFile = "codebook.safetensors";
    public const string CatalogFile = "catalog.jsonl";
    public const string TrainingReportFile = "training.json";
    public const int BeamWidth = 20, TopK = 20;
    /// <summary>Embedding rows are padded to a multiple of this (HF's pad_to_multiple_of habit; faster matmuls).</summary>
    public const int VocabMultiple = 64;

    /// <summary>The prompt a stage trains with; the last stage's is the bundle's, so generation builds the same prompts.</summary>
    public static PromptTemplate StageTemplate(FineTuneStage stage, FineTuneOptions options)
    {
        ArgumentNullException.ThrowIfNull(stage);
        ArgumentNullException.ThrowIfNull(options);
        return new PromptTemplate
        {
            Text = PromptText,
            PositivesClause = PositivesClause,
            Separator = "",
            Context = stage.Context,
            RecentDays = stage.RecentDays,
            MaxNegatives = options.MaxNegatives,
            MaxPositives = options.MaxPositives,
            MaxTokens = options.MaxPromptTokens,
        };
    }

    public static FineTuneResult Train(string bundleDir, Codebook codebook, string codebookPath, IReadOnlyDictionary<string, ulong> catalog,
        IReadOnlyList<SftExample> train, IReadOnlyList<SftExample> validation, IReadOnlyList<AlignmentExample> alignment,
        FineTuneOptions options, IProgress<TrainProgress>? progress = null,
        IReadOnlyList<GrpoExample>? grpoTrain = null, IReadOnlyList<GrpoExample>? grpoValidation = null)
    {
        ArgumentNullException.ThrowIfNull(bundleDir);
        ArgumentNullException.ThrowIfNull(codebook);
        ArgumentNullException.ThrowIfNull(codebookPath);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(alignment);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!File.Exists(codebookPath)) throw new ArgumentException($"codebook file '{codebookPath}' does not exist", nameof(codebookPath));
        // The bundle names its codebook by content hash: the file copied must be the codebook the SIDs come from.
        if (Codebook.HashOf(File.ReadAllBytes(codebookPath)) != codebook.ContentHash)
            throw new ArgumentException($"codebook file '{codebookPath}' is not the codebook passed in (content hashes differ)", nameof(codebookPath));
        if (catalog.Count == 0) throw new ArgumentException("catalog is empty", nameof(catalog));
        foreach (var (item, sid) in catalog)
            if (!codebook.Layout.IsValidPacked(sid))
                throw new ArgumentException($"catalog item '{item}' has SID {sid}, not valid for the {codebook.Levels}x{codebook.CodesPerLevel} codebook", nameof(catalog));
        if (train.Count == 0) throw new ArgumentException("no training examples", nameof(train));

        var clock = Stopwatch.StartNew();
        string modelDir = Path.Combine(bundleDir, ModelDirectory);
        var formats = SidTokenMap.DefaultFormats(codebook.Levels);
        string? baseDir = options.BaseModel is null ? null : Path.GetFullPath(options.BaseModel);
        if (baseDir is null) SidTokenizerWriter.Write(modelDir, codebook.Levels, codebook.CodesPerLevel, formats);
        else SidTokenizerWriter.Extend(baseDir, modelDir, codebook.Levels, codebook.CodesPerLevel, formats);
        var tokenizer = HfTokenizer.LoadDirectory(modelDir);
        var sids = SidTokenMap.Create(tokenizer, codebook.Levels, codebook.CodesPerLevel, formats);
        int padId = tokenizer.PadTokenId ?? tokenizer.EosTokenId ?? throw new InvalidOperationException("the tokenizer has no pad or EOS token");

        // Data first: every stage's sequences are known before the first step, so the LR schedule spans the run.
        var rng = new Random(options.Seed);
        var stages = options.Stages.Select(s =>
        {
            var template = StageTemplate(s, options);
            var builder = new PromptBuilder(template, sids, tokenizer, catalog, codebook.Layout);
            var (seqs, skipped, sample) = BuildSequences(builder, train, catalog, sids, options.MaxTargetsPerExample);
            var (val, _, _) = BuildSequences(builder, validation, catalog, sids, options.MaxTargetsPerExample);
            return (Stage: s, Template: template, Train: seqs, Validation: val, Skipped: skipped, Sample: sample);
        }).ToList();
        for (int i = 0; i < stages.Count; i++)
        {
            if (stages[i].Train.Count == 0)
                throw new ArgumentException($"stage {i} ({PromptTemplate.ContextName(stages[i].Stage.Context)}): none of the {train.Count} training examples has a non-empty prompt and a catalog target", nameof(train));
        }

        var questions = BuildQuestions(alignment, catalog, sids, rng);
        int heldOut = (int)Math.Round(questions.Count * options.AlignmentHoldout);
        var alignTest = questions.Take(heldOut).ToList();
        var alignTrain = questions.Skip(heldOut).ToList();
        int AlignmentPerEpoch(int sftCount) => alignTrain.Count == 0 ? 0 : (int)Math.Round(options.AlignmentWeight * sftCount);
        int totalSteps = options.SkipSft ? 0 : stages.Sum(s => s.Stage.Epochs * (int)Math.Ceiling((s.Train.Count + AlignmentPerEpoch(s.Train.Count)) / (double)options.BatchSize));
        // Progress spans both phases, so one bar covers the run; GRPO's steps are upper bounds (validation stops earlier).
        int grpoMaxSteps = options.Grpo is { } gOpt && grpoTrain is { Count: > 0 } ? gOpt.Stages.Sum(st => st.MaxSteps) : 0;

        // Weights come from a private Generator (Initialize), so other code drawing from the global generator in the
        // same process cannot change them; the global seed only covers ops that sample implicitly.
        torch.manual_seed(options.Seed);
        var setup = baseDir is null ? FromScratch(tokenizer, padId, codebook, options) : FromBase(baseDir, tokenizer, sids, options);
        var model = setup.Model;
        var config = model.Config;
        try
        {
            long parameters = model.parameters().Sum(p => p.numel());
            long trainable = setup.Trainable.Sum(p => p.numel());
            double? initialAccuracy = alignTest.Count > 0 ? AlignmentAccuracy(model, alignTest, tokenizer, sids, padId, options.BatchSize) : null;

            var decay = setup.Trainable.Where(p => p.dim() >= 2 && !ReferenceEquals(p, setup.TokenRows)).ToList();
            var noDecay = setup.Trainable.Where(p => p.dim() < 2 || ReferenceEquals(p, setup.TokenRows)).ToList();
            using var optimizer = torch.optim.AdamW(
                [new AdamW.ParamGroup(decay, weight_decay: options.WeightDecay), new AdamW.ParamGroup(noDecay, weight_decay: 0)],
                lr: options.LearningRate, weight_decay: options.WeightDecay);
            int warmup = Math.Max(1, (int)Math.Round(options.WarmupRatio * totalSteps));

            var results = new List<FineTuneStageResult>();
            var epochsRun = new List<int>();
            int step = 0;
            for (int si = 0; si < stages.Count; si++)
            {
                var s = stages[si];
                var stageClock = Stopwatch.StartNew();
                var stepLosses = new List<double>();
                var epochLosses = new List<double>();
                int alignCount = AlignmentPerEpoch(s.Train.Count);
                double? bestVal = null;
                List<Tensor>? bestState = null;
                var epochVal = new List<double>();
                int sinceBest = 0, epoch = 0;
                for (; epoch < (options.SkipSft ? 0 : s.Stage.Epochs); epoch++)
                {
                    var epochSeqs = new List<TrainingSequence>(s.Train);
                    var order = Permutation(alignTrain.Count, rng);
                    for (int i = 0; i < alignCount; i++)
                    {
                        // Candidates are reshuffled each time, so the answer's position carries no signal.
                        var q = alignTrain[order[i % alignTrain.Count]];
                        var cands = Permutation(q.Candidates.Length, rng).Select(j => q.Candidates[j]).ToArray();
                        epochSeqs.Add(new TrainingSequence(AlignmentPromptIds(tokenizer, sids, cands), q.Candidates[q.NegativeIndex]));
                    }
                    Shuffle(epochSeqs, rng);
                    double epochSum = 0;
                    int epochSteps = 0;
                    model.train();
                    for (int b = 0; b < epochSeqs.Count; b += options.BatchSize)
                    {
                        var batch = epochSeqs.GetRange(b, Math.Min(options.BatchSize, epochSeqs.Count - b));
                        double lr = LearningRateAt(step, totalSteps, warmup, options);
                        foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
                        double loss;
                        using (var scope = NewDisposeScope())
                        {
                            optimizer.zero_grad();
                            var logProbs = AnswerLogProbs(model, batch, padId);
                            var l = -logProbs.sum() / (batch.Count * batch[0].Answer.Length);
                            l.backward();
                            setup.AfterBackward?.Invoke();
                            nn.utils.clip_grad_norm_(setup.Trainable, options.GradientClipNorm);
                            optimizer.step();
                            loss = l.item<float>();
                        }
                        step++;
                        if (!double.IsFinite(loss))
                            throw new InvalidOperationException($"training diverged at stage {si} step {step}: loss is {loss}; lower LearningRate ({options.LearningRate})");
                        stepLosses.Add(loss);
                        epochSum += loss;
                        epochSteps++;
                        progress?.Report(new TrainProgress(si, s.Stage.Context, epoch, step, totalSteps + grpoMaxSteps, loss, lr, clock.Elapsed));
                    }
                    epochLosses.Add(epochSum / epochSteps);
                    if (s.Validation.Count == 0) continue;
                    // Early stopping on the stage's validation loss: the best epoch's weights are the ones kept.
                    model.eval();
                    double val = MeanLoss(model, s.Validation, padId, options.BatchSize);
                    epochVal.Add(val);
                    if (bestVal is null || val < bestVal - 1e-6)
                    {
                        bestVal = val;
                        DisposeAll(bestState);
                        bestState = Snapshot(setup.Trainable);
                        sinceBest = 0;
                    }
                    else if (++sinceBest >= options.Patience) { epoch++; break; }
                }
                if (bestState is not null) { Restore(setup.Trainable, bestState); DisposeAll(bestState); }
                epochsRun.Add(epoch);
                model.eval();
                double? valLoss = s.Validation.Count > 0 ? MeanLoss(model, s.Validation, padId, options.BatchSize) : null;
                double? accuracy = alignTest.Count > 0 ? AlignmentAccuracy(model, alignTest, tokenizer, sids, padId, options.BatchSize) : null;
                results.Add(new FineTuneStageResult(s.Stage.Context, s.Template, s.Train.Count, alignCount, s.Skipped,
                    stepLosses, epochLosses, valLoss, accuracy, s.Sample, stageClock.Elapsed) { EpochValidationLosses = epochVal });
            }
            model.eval();

            IReadOnlyList<GrpoStageResult> grpoStages = [];
            IReadOnlyList<GrpoStepLog> grpoSteps = [];
            if (options.Grpo is { } grpoOptions && grpoTrain is { Count: > 0 })
            {
                using var reference = CloneFrozen(model, setup.Lora);
                using var trie = SidTrie.Build(codebook.Layout, catalog.Values, Enumerable.Range(0, codebook.Levels).Select(l =>
                    Enumerable.Range(0, codebook.CodesPerLevel).Select(c => sids.TokenId(l, c)).ToArray()).ToList(), config.VocabSize, torch.CPU);
                var context = new GrpoContext(model, reference, setup.Trainable, setup.AfterBackward, trie, codebook, catalog,
                    stage => new PromptBuilder(StageTemplate(new FineTuneStage(stage.Context, 1, stage.RecentDays), options), sids, tokenizer, catalog, codebook.Layout),
                    padId);
                int sftSteps = step;
                var grpoProgress = progress is null ? null : new Progress(p => progress.Report(p with { Step = sftSteps + p.Step, TotalSteps = totalSteps + grpoMaxSteps }));
                var (gs, steps) = GrpoTrainer.Train(context, grpoTrain, grpoValidation ?? [], grpoOptions, grpoProgress);
                grpoStages = gs;
                grpoSteps = steps;
                model.eval();
            }

            if (baseDir is null) Qwen3CheckpointWriter.Save(model, modelDir);
            else
            {
                // The bundle holds the adapter, not the base: config.json with the grown vocabulary, the tokenizer with the
                // SID tokens, and a PEFT adapter whose base_model_name_or_path names the base directory.
                Directory.CreateDirectory(modelDir);
                File.WriteAllText(Path.Combine(modelDir, "config.json"), Qwen3CheckpointWriter.ConfigJson(config).ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                PeftAdapterWriter.Save(modelDir, options.Lora, setup.Lora!, baseDir, setup.TokenIds, model.Decoder.EmbeddingWeight);
            }
            string codebookDest = Path.Combine(bundleDir, CodebookFile);
            if (!string.Equals(Path.GetFullPath(codebookPath), Path.GetFullPath(codebookDest), StringComparison.Ordinal))
                File.Copy(codebookPath, codebookDest, overwrite: true);
            BundleWriter.WriteCatalog(Path.Combine(bundleDir, CatalogFile), catalog, codebook.Layout);
            var lastTemplate = options.Grpo is { } go && grpoTrain is { Count: > 0 }
                ? StageTemplate(new FineTuneStage(go.Stages[^1].Context, 1, go.Stages[^1].RecentDays), options)
                : stages[^1].Template;
            BundleWriter.WriteManifest(Path.Combine(bundleDir, Bundle.ModelBundle.ManifestFile), ModelDirectory, CodebookFile, CatalogFile,
                formats, lastTemplate, BeamWidth, TopK);

            var result = new FineTuneResult
            {
                BundleDirectory = bundleDir, Model = model, VocabSize = config.VocabSize, ParameterCount = parameters, Stages = results,
                InitialAlignmentAccuracy = initialAccuracy, AlignmentHeldOut = alignTest.Count, WallTime = clock.Elapsed,
                TrainableParameters = trainable, GrpoStages = grpoStages, GrpoSteps = grpoSteps, EpochsRun = epochsRun,
            };
            TrainingReportWriter.Write(Path.Combine(bundleDir, TrainingReportFile), result, options, totalSteps);
            return result;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Reports on the caller's thread (System.Progress would post to the thread pool and reorder).</summary>
    private sealed class Progress(Action<TrainProgress> report) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress value) => report(value);
    }

    /// <summary>The model being trained, what the optimiser updates, and (from a base) the LoRA adapters and SID token rows.</summary>
    private sealed record Setup(Qwen3ForCausalLM Model, IReadOnlyList<Parameter> Trainable, Action? AfterBackward,
        IReadOnlyList<(string Path, LoraLinear Adapter)>? Lora, IReadOnlyList<int> TokenIds, Parameter? TokenRows);

    private static Setup FromScratch(HfTokenizer tokenizer, int padId, Codebook codebook, FineTuneOptions options)
    {
        int vocab = (tokenizer.VocabSize + VocabMultiple - 1) / VocabMultiple * VocabMultiple;
        var config = new Qwen3Config
        {
            VocabSize = vocab, HiddenSize = options.HiddenSize, IntermediateSize = options.IntermediateSize,
            NumHiddenLayers = options.Layers, NumAttentionHeads = options.Heads, NumKeyValueHeads = options.KvHeads,
            HeadDim = options.HeadDim, RopeTheta = options.RopeTheta, TieWordEmbeddings = options.TieEmbeddings,
            MaxPositionEmbeddings = Math.Max(4096, options.MaxPromptTokens + codebook.Levels),
            EosTokenId = tokenizer.EosTokenId, PadTokenId = padId,
        };
        var model = new Qwen3ForCausalLM(config);
        Initialize(model, options.Seed);
        if (options.InitialModel is { } initial)
        {
            using var from = Qwen3Checkpoint.Load(initial, torch.CPU, ScalarType.Float32);
            if (from.Config.VocabSize != config.VocabSize || from.Config.HiddenSize != config.HiddenSize || from.Config.NumHiddenLayers != config.NumHiddenLayers)
                throw new ArgumentException($"initial model '{initial}' has vocab {from.Config.VocabSize}, hidden {from.Config.HiddenSize}, {from.Config.NumHiddenLayers} layers; this run needs {config.VocabSize}, {config.HiddenSize}, {config.NumHiddenLayers}");
            using var _ = torch.no_grad();
            var source = from.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, param) in model.named_parameters()) param.copy_(source[name]);
        }
        foreach (var p in model.parameters()) p.requires_grad = true;
        return new Setup(model, [.. model.parameters()], null, null, [], null);
    }

    /// <summary>
    /// A base checkpoint with its vocabulary grown to hold the SID tokens (new rows start at the mean of the existing
    /// ones, as HF's resize_token_embeddings does), frozen, plus LoRA on the target modules and the SID token rows
    /// trainable (PEFT's trainable_token_indices: the gradient of every other row is zeroed, and AdamW's decoupled
    /// decay is off for the embedding so frozen rows never move).
    /// </summary>
    private static Setup FromBase(string baseDir, HfTokenizer tokenizer, SidTokenMap sids, FineTuneOptions options)
    {
        using var baseModel = Qwen3Checkpoint.Load(baseDir, torch.CPU, ScalarType.Float32);
        var bc = baseModel.Config;
        int needed = tokenizer.VocabSize;
        int vocab = Math.Max(bc.VocabSize, (needed + VocabMultiple - 1) / VocabMultiple * VocabMultiple);
        var config = bc with { VocabSize = vocab, MaxPositionEmbeddings = Math.Max(bc.MaxPositionEmbeddings, options.MaxPromptTokens + sids.Levels) };
        var model = new Qwen3ForCausalLM(config);
        using (torch.no_grad())
        {
            var source = baseModel.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, param) in model.named_parameters())
            {
                var from = source[name];
                if (name == Qwen3Checkpoint.EmbeddingName && from.shape[0] < param.shape[0])
                {
                    param.narrow(0, 0, from.shape[0]).copy_(from);
                    using var mean = from.mean([0], keepdim: true);
                    param.narrow(0, from.shape[0], param.shape[0] - from.shape[0]).copy_(mean.expand(param.shape[0] - from.shape[0], from.shape[1]));
                }
                else param.copy_(from);
            }
        }
        foreach (var p in model.parameters()) p.requires_grad = false;
        using var generator = new torch.Generator((ulong)options.Seed);
        var adapters = model.AttachLora(options.Lora, generator);
        var tokenIds = new List<int>();
        for (int l = 0; l < sids.Levels; l++)
            for (int c = 0; c < sids.Layout.CodesPerLevel; c++) tokenIds.Add(sids.TokenId(l, c));
        tokenIds.Sort();
        var embedding = (Parameter)model.Decoder.EmbeddingWeight;
        embedding.requires_grad = true;
        var rowMask = torch.zeros([vocab, 1], ScalarType.Float32);
        rowMask.index_fill_(0, torch.tensor(tokenIds.Select(i => (long)i).ToArray()), 1.0);
        var trainable = adapters.SelectMany(a => a.Adapter.parameters()).Append(embedding).ToList();
        return new Setup(model, trainable, () => embedding.grad?.mul_(rowMask), adapters, tokenIds, embedding);
    }

    /// <summary>A frozen copy of the model as it is now (LoRA included): GRPO's π_ref.</summary>
    private static Qwen3ForCausalLM CloneFrozen(Qwen3ForCausalLM model, IReadOnlyList<(string Path, LoraLinear Adapter)>? lora)
    {
        var copy = new Qwen3ForCausalLM(model.Config);
        if (lora is { Count: > 0 })
        {
            var settings = new LoraSettings
            {
                Rank = (int)lora[0].Adapter.A.shape[0], Dropout = 0,
                TargetModules = [.. lora.Select(a => a.Path[(a.Path.LastIndexOf('.') + 1)..]).Distinct()],
            };
            copy.AttachLora(settings);
        }
        using (torch.no_grad())
        {
            var source = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, param) in copy.named_parameters()) param.copy_(source[name]);
        }
        foreach (var p in copy.parameters()) p.requires_grad = false;
        copy.eval();
        return copy;
    }

    private static List<Tensor> Snapshot(IReadOnlyList<Parameter> parameters)
    {
        using var _ = torch.no_grad();
        return [.. parameters.Select(p => p.detach().clone())];
    }

    private static void Restore(IReadOnlyList<Parameter> parameters, List<Tensor> state)
    {
        using var _ = torch.no_grad();
        for (int i = 0; i < parameters.Count; i++) parameters[i].copy_(state[i]);
    }

    private static void DisposeAll(List<Tensor>? tensors)
    {
        if (tensors is null) return;
        foreach (var t in tensors) t.Dispose();
    }

    /// <summary>HF's initialisation: normal(0, 0.02) for every matrix (embeddings included), ones for the norms.</summary>
    private static void Initialize(Qwen3ForCausalLM model, int seed)
    {
        using var _ = torch.no_grad();
        using var generator = new torch.Generator((ulong)seed);
        foreach (var p in model.parameters())
        {
            if (p.dim() >= 2) p.normal_(0, 0.02, generator);
            else p.fill_(1.0f);
        }
    }

    /// <summary>Linear warmup to the peak, then cosine decay to MinLearningRateRatio × peak at the last step.</summary>
    public static double LearningRateAt(int step, int totalSteps, int warmup, FineTuneOptions o)
    {
        if (step < warmup) return o.LearningRate * (step + 1) / warmup;
        double progress = totalSteps <= warmup ? 1 : Math.Min(1, (step - warmup) / (double)Math.Max(1, totalSteps - warmup - 1));
        double min = o.LearningRate * o.MinLearningRateRatio;
        return min + (o.LearningRate - min) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    private static (List<TrainingSequence> Sequences, int Skipped, string? Sample) BuildSequences(PromptBuilder builder, IReadOnlyList<SftExample> examples,
        IReadOnlyDictionary<string, ulong> catalog, SidTokenMap sids, int maxTargets)
    {
        var result = new List<TrainingSequence>();
        int skipped = 0;
        string? sample = null;
        for (int i = 0; i < examples.Count; i++)
        {
            var e = examples[i] ?? throw new ArgumentException($"example {i} is null");
            if (e.History is null || e.TargetItems is null) throw new ArgumentException($"example {i} has a null History or TargetItems");
            var prompt = builder.Build(e.History, e.At);
            var targets = e.TargetItems.Where(catalog.ContainsKey).Distinct(StringComparer.Ordinal).Take(maxTargets).ToList();
            if (prompt.Empty || targets.Count == 0) { skipped++; continue; }
            sample ??= prompt.Text;
            int[] ids = [.. prompt.TokenIds];
            foreach (var t in targets) result.Add(new TrainingSequence(ids, SidIds(sids, catalog[t])));
        }
        return (result, skipped, sample);
    }

    private static List<AlignmentQuestion> BuildQuestions(IReadOnlyList<AlignmentExample> examples, IReadOnlyDictionary<string, ulong> catalog, SidTokenMap sids, Random rng)
    {
        var questions = new List<AlignmentQuestion>();
        foreach (var e in examples)
        {
            if (e?.PositiveItems is null || !catalog.TryGetValue(e.NegativeItem ?? "", out ulong negative)) continue;
            // A positive sharing the negative's SID would make the question unanswerable.
            var positives = e.PositiveItems.Where(p => p is not null && catalog.TryGetValue(p, out ulong s) && s != negative)
                .Select(p => catalog[p]).Distinct().ToList();
            if (positives.Count == 0) continue;
            var all = positives.Prepend(negative).ToList();
            var order = Permutation(all.Count, rng);
            questions.Add(new AlignmentQuestion([.. order.Select(j => SidIds(sids, all[j]))], Array.IndexOf(order, 0)));
        }
        Shuffle(questions, rng);
        return questions;
    }

    private static int[] AlignmentPromptIds(HfTokenizer tokenizer, SidTokenMap sids, int[][] candidates)
    {
        var ids = new List<int>(tokenizer.Encode(AlignmentPrefix));
        foreach (var c in candidates) ids.AddRange(c);
        ids.AddRange(tokenizer.Encode(SidTokenizerWriter.ImEnd));
        return [.. ids];
    }

    private static int[] SidIds(SidTokenMap sids, ulong packed)
    {
        Span<uint> codes = stackalloc uint[sids.Levels];
        sids.Layout.Unpack(packed, codes);
        var ids = new int[sids.Levels];
        for (int l = 0; l < ids.Length; l++) ids[l] = sids.TokenId(l, (int)codes[l]);
        return ids;
    }

    /// <summary>
    /// Teacher-forced Σ log p(answer token) per sequence [N]. Right padding, so positions are 0..T-1 and padded keys
    /// are masked; only the hidden states that predict answer tokens go through the LM head (the prompt needs no logits).
    /// </summary>
    internal static Tensor AnswerLogProbs(Qwen3ForCausalLM model, IReadOnlyList<TrainingSequence> batch, int padId)
    {
        using var scope = NewDisposeScope();
        int n = batch.Count, answer = batch[0].Answer.Length;
        // The last answer token is only a label, never an input.
        int t = batch.Max(s => s.Prompt.Length + answer - 1);
        var ids = new long[n * t];
        var valid = new bool[n * t];
        var at = new long[n * answer];
        var labels = new long[n * answer];
        Array.Fill(ids, padId);
        for (int i = 0; i < n; i++)
        {
            var s = batch[i];
            if (s.Answer.Length != answer) throw new InvalidOperationException("all answers in a batch must have the same length");
            int len = s.Prompt.Length + answer - 1;
            for (int j = 0; j < len; j++)
            {
                ids[i * t + j] = j < s.Prompt.Length ? s.Prompt[j] : s.Answer[j - s.Prompt.Length];
                valid[i * t + j] = true;
            }
            for (int j = 0; j < answer; j++)
            {
                at[i * answer + j] = s.Prompt.Length - 1 + j; // the position whose output predicts answer token j
                labels[i * answer + j] = s.Answer[j];
            }
        }
        var inputIds = torch.tensor(ids, [n, t]);
        var keyValid = torch.tensor(valid, [n, t]);
        var positions = torch.arange(t, dtype: ScalarType.Int64).unsqueeze(0).expand(n, t);
        var mask = AttentionMasks.Build(keyValid, t, model.Decoder.EmbeddingWeight.dtype);
        var hidden = model.Decoder.Forward(inputIds, positions, mask, null);                                   // [N, T, H]
        var index = torch.tensor(at, [n, answer]).unsqueeze(-1).expand(n, answer, hidden.shape[2]);
        var logProbs = model.Head(hidden.gather(1, index)).log_softmax(-1);                                   // [N, L, V]
        var picked = logProbs.gather(2, torch.tensor(labels, [n, answer]).unsqueeze(-1)).squeeze(-1);          // [N, L]
        return picked.sum(1).MoveToOuterDisposeScope();
    }

    /// <summary>Mean answer-token cross-entropy (nats) over <paramref name="sequences"/>.</summary>
    internal static double MeanLoss(Qwen3ForCausalLM model, IReadOnlyList<TrainingSequence> sequences, int padId, int batchSize)
    {
        using var _ = torch.no_grad();
        double sum = 0;
        long tokens = 0;
        for (int b = 0; b < sequences.Count; b += batchSize)
        {
            using var scope = NewDisposeScope();
            var batch = sequences.Skip(b).Take(batchSize).ToList();
            sum -= AnswerLogProbs(model, batch, padId).sum().item<float>();
            tokens += batch.Sum(s => s.Answer.Length);
        }
        return sum / tokens;
    }

    /// <summary>Share of questions whose negative candidate has the strictly highest answer log-probability.</summary>
    private static double AlignmentAccuracy(Qwen3ForCausalLM model, List<AlignmentQuestion> questions, HfTokenizer tokenizer, SidTokenMap sids, int padId, int batchSize)
    {
        model.eval();
        var seqs = new List<TrainingSequence>();
        foreach (var q in questions)
        {
            var prompt = AlignmentPromptIds(tokenizer, sids, q.Candidates);
            foreach (var c in q.Candidates) seqs.Add(new TrainingSequence(prompt, c));
        }
        var scores = new float[seqs.Count];
        using (torch.no_grad())
        {
            for (int b = 0; b < seqs.Count; b += batchSize)
            {
                using var scope = NewDisposeScope();
                var batch = seqs.Skip(b).Take(batchSize).ToList();
                AnswerLogProbs(model, batch, padId).data<float>().CopyTo(scores.AsSpan(b, batch.Count));
            }
        }
        int correct = 0, offset = 0;
        foreach (var q in questions)
        {
            float best = scores[offset + q.NegativeIndex];
            bool wins = true;
            for (int j = 0; j < q.Candidates.Length; j++)
                if (j != q.NegativeIndex && scores[offset + j] >= best) wins = false;
            if (wins) correct++;
            offset += q.Candidates.Length;
        }
        return correct / (double)questions.Count;
    }

    private static int[] Permutation(int n, Random rng)
    {
        var p = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(p);
        return p;
    }

    private static void Shuffle<T>(List<T> list, Random rng) => rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list));
}
