using System.Text.Json;
using CoNRec.Model.Prompting;

namespace CoNRec.Model.Training;

/// <summary>training.json: the options, the loss curves per stage and the timings, for audits and the README's figures.</summary>
internal static class TrainingReportWriter
{
    public static void Write(string path, FineTuneResult result, FineTuneOptions o, int totalSteps)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteStartObject("options");
        w.WriteNumber("hidden_size", o.HiddenSize);
        w.WriteNumber("layers", o.Layers);
        w.WriteNumber("heads", o.Heads);
        w.WriteNumber("kv_heads", o.KvHeads);
        w.WriteNumber("head_dim", o.HeadDim);
        w.WriteNumber("intermediate_size", o.IntermediateSize);
        w.WriteBoolean("tie_embeddings", o.TieEmbeddings);
        w.WriteNumber("rope_theta", o.RopeTheta);
        w.WriteStartArray("stages");
        foreach (var s in o.Stages)
        {
            w.WriteStartObject();
            w.WriteString("context", PromptTemplate.ContextName(s.Context));
            w.WriteNumber("epochs", s.Epochs);
            w.WriteNumber("recent_days", s.RecentDays);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("batch_size", o.BatchSize);
        w.WriteNumber("learning_rate", o.LearningRate);
        w.WriteNumber("warmup_ratio", o.WarmupRatio);
        w.WriteNumber("min_learning_rate_ratio", o.MinLearningRateRatio);
        w.WriteNumber("weight_decay", o.WeightDecay);
        w.WriteNumber("gradient_clip_norm", o.GradientClipNorm);
        w.WriteNumber("alignment_weight", o.AlignmentWeight);
        w.WriteNumber("alignment_holdout", o.AlignmentHoldout);
        w.WriteNumber("max_targets_per_example", o.MaxTargetsPerExample);
        w.WriteNumber("max_prompt_tokens", o.MaxPromptTokens);
        w.WriteNumber("max_negatives", o.MaxNegatives);
        w.WriteNumber("max_positives", o.MaxPositives);
        w.WriteNumber("seed", o.Seed);
        w.WriteNumber("patience", o.Patience);
        if (o.BaseModel is not null)
        {
            w.WriteString("base_model", o.BaseModel);
            w.WriteStartObject("lora");
            w.WriteNumber("r", o.Lora.Rank);
            w.WriteNumber("lora_alpha", o.Lora.Alpha);
            w.WriteBoolean("use_rslora", o.Lora.UseRsLora);
            w.WriteNumber("lora_dropout", o.Lora.Dropout);
            w.WriteString("target_modules", string.Join(",", o.Lora.TargetModules));
            w.WriteEndObject();
        }
        if (o.Grpo is { } grpo)
        {
            w.WriteStartObject("grpo");
            w.WriteNumber("group_size", grpo.GroupSize);
            w.WriteNumber("temperature", grpo.Temperature);
            w.WriteNumber("epsilon", grpo.Epsilon);
            w.WriteNumber("gamma", grpo.Gamma);
            w.WriteString("reward_target", grpo.Target == RewardTarget.NextNegative ? "next_negative" : "seven_day_swing");
            w.WriteNumber("prompts_per_step", grpo.PromptsPerStep);
            w.WriteNumber("inner_iterations", grpo.InnerIterations);
            w.WriteNumber("learning_rate", grpo.LearningRate);
            w.WriteNumber("eval_every", grpo.EvalEvery);
            w.WriteString("validation", grpo.Validation == GrpoValidation.Hits ? "hits" : "reward");
            w.WriteNumber("validation_top_k", grpo.ValidationTopK);
            w.WriteNumber("patience", grpo.Patience);
            w.WriteStartArray("stages");
            foreach (var st in grpo.Stages)
            {
                w.WriteStartObject();
                w.WriteString("context", PromptTemplate.ContextName(st.Context));
                w.WriteNumber("beta", st.Beta);
                w.WriteNumber("max_steps", st.MaxSteps);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteNumber("trainable_parameters", result.TrainableParameters);
        w.WriteStartArray("epochs_run");
        foreach (var e in result.EpochsRun) w.WriteNumberValue(e);
        w.WriteEndArray();

        w.WriteNumber("vocab_size", result.VocabSize);
        w.WriteNumber("parameters", result.ParameterCount);
        w.WriteNumber("total_steps", totalSteps);
        w.WriteNumber("alignment_held_out", result.AlignmentHeldOut);
        Nullable(w, "initial_alignment_accuracy", result.InitialAlignmentAccuracy);
        w.WriteStartArray("stages");
        foreach (var s in result.Stages)
        {
            w.WriteStartObject();
            w.WriteString("context", PromptTemplate.ContextName(s.Context));
            w.WriteNumber("sequences", s.Sequences);
            w.WriteNumber("alignment_sequences", s.AlignmentSequences);
            w.WriteNumber("skipped_examples", s.SkippedExamples);
            Nullable(w, "validation_loss", s.ValidationLoss);
            Nullable(w, "alignment_accuracy", s.AlignmentAccuracy);
            w.WriteNumber("wall_seconds", s.WallTime.TotalSeconds);
            w.WriteStartArray("epoch_losses");
            foreach (var x in s.EpochLosses) w.WriteNumberValue(x);
            w.WriteEndArray();
            w.WriteStartArray("step_losses");
            foreach (var x in s.StepLosses) w.WriteNumberValue(x);
            w.WriteEndArray();
            if (s.SamplePrompt is not null) w.WriteString("sample_prompt", s.SamplePrompt);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("grpo_stages");
        foreach (var g in result.GrpoStages)
        {
            w.WriteStartObject();
            w.WriteString("context", PromptTemplate.ContextName(g.Stage.Context));
            w.WriteNumber("beta", g.Stage.Beta);
            w.WriteNumber("steps", g.Steps);
            w.WriteNumber("prompts", g.Prompts);
            w.WriteString("validation_criterion", g.Criterion);
            Nullable(w, "initial_validation", g.InitialValidationReward);
            Nullable(w, "best_validation", g.BestValidationReward);
            w.WriteNumber("wall_seconds", g.Wall.TotalSeconds);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("grpo_steps");
        foreach (var g in result.GrpoSteps)
        {
            w.WriteStartObject();
            w.WriteNumber("stage", g.Stage);
            w.WriteNumber("step", g.Step);
            w.WriteNumber("reward_mean", g.RewardMean);
            w.WriteNumber("reward_std", g.RewardStd);
            w.WriteNumber("kl", g.Kl);
            w.WriteNumber("clip_fraction", g.ClipFraction);
            w.WriteNumber("valid_rollouts", g.ValidShare);
            w.WriteNumber("loss", g.Loss);
            Nullable(w, "validation_reward", g.ValidationReward);
            Nullable(w, "validation_hits", g.ValidationHits);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("wall_seconds", result.WallTime.TotalSeconds);
        w.WriteEndObject();
    }

    private static void Nullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is double v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }
}
