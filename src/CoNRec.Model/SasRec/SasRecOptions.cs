namespace CoNRec.Model.SasRec;

/// <summary>
/// SASRec (Kang &amp; McAuley, 2018) sized as in its paper for small datasets: d = 64, two self-attention blocks, one
/// head, sequences of the last 50 items, dropout 0.2. Here it reads a user's negative sequence (PNFRec's negative
/// encoder) and is trained to predict the next negative; epochs stop on held-out users' loss.
/// </summary>
public sealed record SasRecOptions
{
    public int Dimension { get; init; } = 64;
    public int Blocks { get; init; } = 2;
    public int Heads { get; init; } = 1;
    public int MaxLength { get; init; } = 50;
    public double Dropout { get; init; } = 0.2;
    public int MaxEpochs { get; init; } = 200;
    public int Patience { get; init; } = 5;
    public int BatchSize { get; init; } = 128;
    public double LearningRate { get; init; } = 1e-3;
    public int Seed { get; init; } = 13;

    public void Validate()
    {
        if (Dimension is < 4 or > 4096) throw new ArgumentException($"SASRec dimension = {Dimension} must be in [4, 4096]");
        if (Heads < 1 || Dimension % Heads != 0) throw new ArgumentException($"SASRec heads = {Heads} must divide the dimension {Dimension}");
        if (Blocks is < 1 or > 32) throw new ArgumentException($"SASRec blocks = {Blocks} must be in [1, 32]");
        if (MaxLength is < 2 or > 4096) throw new ArgumentException($"SASRec max length = {MaxLength} must be in [2, 4096]");
        if (!double.IsFinite(Dropout) || Dropout < 0 || Dropout >= 1) throw new ArgumentException($"SASRec dropout = {Dropout} must be in [0, 1)");
        if (MaxEpochs is < 1 or > 100_000) throw new ArgumentException($"SASRec epochs = {MaxEpochs} must be in [1, 100000]");
        if (!double.IsFinite(LearningRate) || LearningRate <= 0 || LearningRate > 1) throw new ArgumentException($"SASRec learning rate = {LearningRate} must be in (0, 1]");
    }
}
