namespace CoNRec.Offline.Embeddings;

/// <summary>One dense vector per item, stored row-major in one array (row i belongs to <see cref="ItemIds"/>[i]).</summary>
public sealed class ItemEmbeddings
{
    public const int MaxDimension = 65536;

    private readonly Dictionary<string, int> _index;

    public int Dimension { get; }
    public IReadOnlyList<string> ItemIds { get; }
    public float[] Matrix { get; }
    public int Count => ItemIds.Count;

    public ItemEmbeddings(IReadOnlyList<string> itemIds, float[] matrix, int dimension)
    {
        if (dimension is < 1 or > MaxDimension) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, $"dimension must be in [1, {MaxDimension}]");
        if ((long)itemIds.Count * dimension != matrix.Length)
            throw new ArgumentException($"matrix has {matrix.Length} values; {itemIds.Count} items × {dimension} dimensions need {(long)itemIds.Count * dimension}", nameof(matrix));
        _index = new Dictionary<string, int>(itemIds.Count, StringComparer.Ordinal);
        for (int i = 0; i < itemIds.Count; i++)
            if (!_index.TryAdd(itemIds[i], i)) throw new ArgumentException($"item '{itemIds[i]}' appears twice", nameof(itemIds));
        ItemIds = itemIds;
        Matrix = matrix;
        Dimension = dimension;
    }

    public ReadOnlySpan<float> Row(int index) => Matrix.AsSpan(checked(index * Dimension), Dimension);

    public bool TryGet(string itemId, out ReadOnlySpan<float> embedding)
    {
        if (_index.TryGetValue(itemId, out var i))
        {
            embedding = Row(i);
            return true;
        }
        embedding = default;
        return false;
    }

    public int IndexOf(string itemId) => _index.TryGetValue(itemId, out var i) ? i : -1;
}
