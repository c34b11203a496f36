namespace CoNRec.Model.Lora;

/// <summary>
/// PEFT's LoraConfig fields that change the math: rank r, lora_alpha, use_rslora (scale α/√r instead of α/r),
/// lora_dropout and target_modules (matched as PEFT does: a module path or its last segments).
/// </summary>
public sealed record LoraSettings
{
    public int Rank { get; init; } = 8;
    public double Alpha { get; init; } = 16;
    public bool UseRsLora { get; init; }
    public double Dropout { get; init; } = 0.05;

    /// <summary>Qwen's attention and MLP projections, the set PEFT users name for Llama-style models.</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    public double Scale => UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;

    public static readonly IReadOnlySet<string> KnownModules = new HashSet<string>(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]);

    /// <summary>Throws <see cref="ArgumentException"/> naming the field and its limit.</summary>
    public void Validate()
    {
        if (Rank is < 1 or > 4096) throw new ArgumentException($"LoRA rank r = {Rank} must be in [1, 4096]");
        if (!double.IsFinite(Alpha) || Alpha <= 0 || Alpha > 1e6) throw new ArgumentException($"LoRA alpha = {Alpha} must be in (0, 1e6]");
        if (!double.IsFinite(Dropout) || Dropout < 0 || Dropout >= 1) throw new ArgumentException($"LoRA dropout = {Dropout} must be in [0, 1)");
        if (TargetModules is null || TargetModules.Count == 0) throw new ArgumentException("LoRA target_modules must name at least one module");
        foreach (var m in TargetModules)
            if (!KnownModules.Contains(m))
                throw new ArgumentException($"LoRA target module '{m}' is not one of {string.Join(", ", KnownModules)}");
    }

    public bool Targets(string module) => TargetModules.Contains(module);
}
