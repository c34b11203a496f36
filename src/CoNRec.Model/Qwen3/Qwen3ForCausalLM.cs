using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.Qwen3;

/// <summary>The decoder plus the LM head; with tied embeddings the head reuses <c>model.embed_tokens.weight</c>.</summary>
public sealed class Qwen3ForCausalLM : nn.Module
{
#pragma warning disable IDE1006 // field names are the HF weight names
    private readonly Qwen3Model model;
    private readonly Linear? lm_head;
#pragma warning restore IDE1006

    public Qwen3Config Config { get; }

    public Qwen3ForCausalLM(Qwen3Config config) : base(nameof(Qwen3ForCausalLM))
    {
        Config = config;
        model = new Qwen3Model(config);
        if (!config.TieWordEmbeddings) lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
    }

    public Qwen3Model Decoder => model;

    /// <summary>Logits [.., vocab] for hidden states [.., hidden].</summary>
    public Tensor Head(Tensor hidden) =>
        lm_head is not null ? lm_head.forward(hidden) : nn.functional.linear(hidden, model.EmbeddingWeight);

    /// <summary>
    /// Attaches LoRA to every targeted projection of every layer and returns each adapter with its Hugging Face module
    /// path (<c>model.layers.3.self_attn.q_proj</c>), the name PEFT saves it under.
    /// </summary>
    public IReadOnlyList<(string Path, Lora.LoraLinear Adapter)> AttachLora(Lora.LoraSettings settings, Generator? generator = null)
    {
        settings.Validate();
        var result = new List<(string, Lora.LoraLinear)>();
        for (int i = 0; i < model.Layers.Count; i++)
        {
            foreach (var (m, a) in model.Layers[i].SelfAttention.AttachLora(settings, generator)) result.Add(($"model.layers.{i}.self_attn.{m}", a));
            foreach (var (m, a) in model.Layers[i].Mlp.AttachLora(settings, generator)) result.Add(($"model.layers.{i}.mlp.{m}", a));
        }
        return result;
    }

    /// <summary>Full forward: logits [N, T, vocab]. Beam search uses <see cref="Decoder"/> and <see cref="Head"/> on the last position only.</summary>
    public Tensor Forward(Tensor inputIds, Tensor positionIds, Tensor mask, KVCache? cache = null)
    {
        using var scope = NewDisposeScope();
        return Head(model.Forward(inputIds, positionIds, mask, cache)).MoveToOuterDisposeScope();
    }
}
