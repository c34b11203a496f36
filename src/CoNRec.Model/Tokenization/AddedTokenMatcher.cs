namespace CoNRec.Model.Tokenization;

/// <summary>
/// Finds added tokens (special or not) in raw text, leftmost-longest, as HF's AddedVocabulary does before
/// normalization and pre-tokenization. A character trie keeps this O(text × longest token) even with tens of
/// thousands of SID tokens that all start with '&lt;'.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private sealed class Node
    {
        public Dictionary<char, Node>? Children;
        public int TokenId = -1;
        public int Length;
    }

    private readonly Node _root = new();

    public AddedTokenMatcher(IEnumerable<KeyValuePair<string, int>> tokens)
    {
        foreach (var (content, id) in tokens)
        {
            Node node = _root;
            foreach (char c in content)
            {
                node.Children ??= [];
                if (!node.Children.TryGetValue(c, out var child)) node.Children[c] = child = new Node();
                node = child;
            }
            node.TokenId = id;
            node.Length = content.Length;
        }
    }

    public bool IsEmpty => _root.Children is null;

    /// <summary>Next match at or after <paramref name="start"/>; false when there is none.</summary>
    public bool TryFindNext(string text, int start, out int index, out int length, out int tokenId)
    {
        for (int i = start; i < text.Length; i++)
        {
            Node node = _root;
            int bestId = -1, bestLength = 0;
            for (int j = i; j < text.Length; j++)
            {
                if (node.Children is null || !node.Children.TryGetValue(text[j], out var child)) break;
                node = child;
                if (node.TokenId >= 0) { bestId = node.TokenId; bestLength = node.Length; }
            }
            if (bestId >= 0)
            {
                index = i; length = bestLength; tokenId = bestId;
                return true;
            }
        }
        index = length = 0; tokenId = -1;
        return false;
    }
}
