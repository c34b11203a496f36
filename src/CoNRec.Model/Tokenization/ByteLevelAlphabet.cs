namespace CoNRec.Model.Tokenization;

/// <summary>
/// GPT-2's byte ↔ printable-character table used by byte-level BPE vocabularies: printable Latin-1 bytes
/// map to themselves, the other 68 bytes to U+0100 onwards (so a space is 'Ġ', a newline 'Ċ').
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildTable();
    private static readonly Dictionary<char, byte> CharToByte = BuildReverse();

    public static char ToChar(byte b) => ByteToChar[b];

    public static bool TryToByte(char c, out byte b) => CharToByte.TryGetValue(c, out b);

    /// <summary>The vocabulary spelling of a UTF-8 byte sequence.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    private static char[] BuildTable()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    private static Dictionary<char, byte> BuildReverse()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++) map[ByteToChar[b]] = (byte)b;
        return map;
    }
}
