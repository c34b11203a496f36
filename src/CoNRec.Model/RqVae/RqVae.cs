using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.RqVae;

/// <summary>
/// Residual-quantised VAE (paper, Algorithm 1): encoder E, L codebooks of K codewords in R^d (one tensor
/// <c>codebooks</c> [L, K, d], the layout Core's <see cref="CoNRec.Core.Codebook"/> reads), decoder D.
/// </summary>
public sealed class RqVae : nn.Module<Tensor, RqVaeOutput>
{
#pragma warning disable IDE1006 // field names are the weight names
    private readonly RqVaeEncoder encoder;
    private readonly RqVaeDecoder decoder;
    private readonly Parameter codebooks;
#pragma warning restore IDE1006
    private readonly float _lambda;
    private readonly float _beta;

    public int InputDim { get; }
    public int Levels { get; }
    public int CodesPerLevel { get; }
    public int LatentDim { get; }

    public RqVae(int inputDim, RqVaeOptions options) : base(nameof(RqVae))
    {
        options.Validate();
        if (inputDim is < 1 or > CoNRec.Core.CodebookEncoder.MaxInputDimension)
            throw new ArgumentOutOfRangeException(nameof(inputDim), inputDim, $"inputDim must be in [1, {CoNRec.Core.CodebookEncoder.MaxInputDimension}] (the stored encoder's limit)");
        var rng = new Random(options.Seed);
        InputDim = inputDim;
        Levels = options.Levels;
        CodesPerLevel = options.CodesPerLevel;
        LatentDim = options.LatentDim;
        _lambda = (float)options.Lambda;
        _beta = (float)options.Beta;
        List<int> widths = [inputDim, .. options.Hidden, options.LatentDim];
        encoder = new RqVaeEncoder(widths, rng);
        widths.Reverse();
        decoder = new RqVaeDecoder(widths, rng);
        // Placeholder values: the trainer overwrites every level with k-means centroids before the first step.
        codebooks = nn.Parameter(RqVaeInit.Uniform(rng, [Levels, CodesPerLevel, LatentDim], 1.0 / Math.Sqrt(LatentDim)));
        RegisterComponents();
    }

    public RqVaeEncoder Encoder => encoder;
    public RqVaeDecoder Decoder => decoder;
    /// <summary>[L, K, d]; a leaf parameter (write into it under no_grad).</summary>
    public Tensor Codebooks => codebooks;

    public Tensor Encode(Tensor x) => encoder.forward(x);

    public Tensor Decode(Tensor quantized) => decoder.forward(quantized);

    /// <summary>
    /// Index of the codeword nearest (Euclidean) to each row of <paramref name="residual"/> [B, d] in level
    /// <paramref name="level"/>; ties keep the lowest index. Distances come from the differences, as Core computes them.
    /// </summary>
    public Tensor Nearest(Tensor residual, int level)
    {
        using var scope = NewDisposeScope();
        using var _ = torch.no_grad();
        var cb = codebooks[level];
        var distances = (residual.detach().unsqueeze(1) - cb.unsqueeze(0)).pow(2).sum(2);
        return distances.argmin(1).MoveToOuterDisposeScope();
    }

    /// <summary>Codes [B, L] and the residual R⁽ᵈ⁾ each level saw ([B, d] per level), without gradients.</summary>
    public (Tensor Codes, Tensor[] Residuals) Quantize(Tensor latent)
    {
        using var scope = NewDisposeScope();
        using var _ = torch.no_grad();
        var residual = latent;
        var codes = new Tensor[Levels];
        var residuals = new Tensor[Levels];
        for (int l = 0; l < Levels; l++)
        {
            residuals[l] = residual.clone(); // a copy owned by this scope: latent belongs to the caller
            codes[l] = Nearest(residual, l);
            residual = residual - codebooks[l].index_select(0, codes[l]);
        }
        var stacked = torch.stack(codes, 1).MoveToOuterDisposeScope();
        foreach (var r in residuals) r.MoveToOuterDisposeScope();
        return (stacked, residuals);
    }

    /// <summary>Algorithm 1: encode, residual-quantise with a straight-through estimator, decode, Eq. 1 loss.</summary>
    public override RqVaeOutput forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var z = encoder.forward(x);
        var residual = z;
        Tensor quantized = torch.zeros_like(z);
        Tensor quantLoss = torch.zeros([], z.dtype);
        var codes = new Tensor[Levels];
        for (int l = 0; l < Levels; l++)
        {
            codes[l] = Nearest(residual, l);
            var zq = codebooks[l].index_select(0, codes[l]);      // Z⁽ᵈ⁾, differentiable w.r.t. the codebook
            var commitment = (residual - zq.detach()).pow(2).sum(1).mean();   // ‖R − sg[Z]‖²: moves the encoder
            var codebookTerm = (residual.detach() - zq).pow(2).sum(1).mean(); // ‖sg[R] − Z‖²: moves the codewords
            quantLoss = quantLoss + (_beta * commitment) + codebookTerm;
            quantized = quantized + zq;
            residual = residual - zq.detach();                     // R⁽ᵈ⁺¹⁾ = R⁽ᵈ⁾ − sg[Z⁽ᵈ⁾]
        }
        // Straight-through: the decoder sees X̂'s value, the gradient of the reconstruction flows to the encoder as if X̂ = X.
        var straight = z + (quantized - z).detach();
        var xHat = decoder.forward(straight);
        var recon = (x - xHat).pow(2).sum(1).mean();
        var loss = recon + (_lambda * quantLoss);
        return new RqVaeOutput(xHat.MoveToOuterDisposeScope(), quantized.detach().MoveToOuterDisposeScope(),
            torch.stack(codes, 1).MoveToOuterDisposeScope(), loss.MoveToOuterDisposeScope(),
            recon.MoveToOuterDisposeScope(), quantLoss.MoveToOuterDisposeScope());
    }
}
