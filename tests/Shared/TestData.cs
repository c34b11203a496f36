using CoNRec.Core;

namespace CoNRec.Testing;

/// <summary>Temp directories with sample inputs; deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("conrec-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }

    public static TempDir WithSample(SampleData.Spec spec)
    {
        var dir = new TempDir();
        SampleData.Write(dir.Path, spec);
        return dir;
    }
}
