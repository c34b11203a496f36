using Xunit;

namespace CoNRec.Model.Tests;

/// <summary>The build's weak-GLIBCXX patch (build/PatchElfVersionNeed.cs, compiled here as linked source).</summary>
public class BuildPortabilityTests
{
    private const string Version = "GLIBCXX_3.4.32";

    private static string OutputCopy() =>
        Directory.EnumerateFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories).First();

    private static string? CacheCopy()
    {
        string root = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var dir = Path.Combine(root, "torchsharp");
        return Directory.Exists(dir) ? Directory.EnumerateFiles(dir, "libLibTorchSharp.so", SearchOption.AllDirectories).FirstOrDefault() : null;
    }

    [Fact]
    public void The_build_output_copy_is_weak_exactly_when_the_host_lacks_the_version_and_the_cache_is_untouched()
    {
        string host = PatchElfVersionNeed.FindLoadedLibStdCxx();
        Assert.True(File.Exists(host), $"libstdc++ not found (got '{host}')");
        bool hostHas = PatchElfVersionNeed.LibraryDefines(host, Version);
        int flags = PatchElfVersionNeed.FlagsOf(File.ReadAllBytes(OutputCopy()), Version);
        Assert.True(flags >= 0, "libLibTorchSharp.so no longer needs GLIBCXX_3.4.32: the patch can go");
        Assert.Equal(!hostHas, (flags & PatchElfVersionNeed.VerFlgWeak) != 0);
        if (CacheCopy() is { } cache)
            Assert.Equal(0, PatchElfVersionNeed.FlagsOf(File.ReadAllBytes(cache), Version) & PatchElfVersionNeed.VerFlgWeak);
    }

    [Fact]
    public void Patching_is_idempotent_and_changes_only_the_flag_bytes()
    {
        var original = File.ReadAllBytes(CacheCopy() ?? OutputCopy());
        var bytes = (byte[])original.Clone();
        bool wasWeak = (PatchElfVersionNeed.FlagsOf(bytes, Version) & PatchElfVersionNeed.VerFlgWeak) != 0;
        Assert.Equal(wasWeak ? PatchElfVersionNeed.Outcome.AlreadyWeak : PatchElfVersionNeed.Outcome.Patched, PatchElfVersionNeed.Patch(bytes, Version));
        Assert.Equal(PatchElfVersionNeed.Outcome.AlreadyWeak, PatchElfVersionNeed.Patch(bytes, Version));
        int changed = original.Zip(bytes).Count(p => p.First != p.Second);
        Assert.Equal(wasWeak ? 0 : 1, changed); // one bit of one vna_flags byte
        Assert.Equal(PatchElfVersionNeed.Outcome.NotRequired, PatchElfVersionNeed.Patch(bytes, "GLIBCXX_9.9.99"));
    }

    [Fact]
    public void PatchFile_replaces_the_file_instead_of_writing_through_a_hard_link()
    {
        using var dir = new CoNRec.Testing.TempDir();
        string a = dir.File("lib.so"), link = dir.File("linked.so");
        var original = File.ReadAllBytes(CacheCopy() ?? OutputCopy());
        if ((PatchElfVersionNeed.FlagsOf(original, Version) & PatchElfVersionNeed.VerFlgWeak) != 0) return; // nothing to patch in this install
        File.WriteAllBytes(a, original);
        using (var ln = System.Diagnostics.Process.Start("ln", [a, link])) ln.WaitForExit(); // .NET has no hard-link API
        Assert.True(File.Exists(link));
        Assert.Equal(PatchElfVersionNeed.Outcome.Patched, PatchElfVersionNeed.PatchFile(link, Version));
        Assert.Equal(0, PatchElfVersionNeed.FlagsOf(File.ReadAllBytes(a), Version) & PatchElfVersionNeed.VerFlgWeak);
        Assert.NotEqual(0, PatchElfVersionNeed.FlagsOf(File.ReadAllBytes(link), Version) & PatchElfVersionNeed.VerFlgWeak);
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3 }, "not an ELF file")]
    [InlineData(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F', 1, 1 }, "not an ELF file")]
    public void Malformed_images_are_refused(byte[] head, string expected)
    {
        var bytes = new byte[Math.Max(head.Length, 64)];
        head.CopyTo(bytes, 0);
        if (head.Length < 64) Array.Resize(ref bytes, head.Length);
        Assert.Contains(expected, Assert.Throws<InvalidDataException>(() => PatchElfVersionNeed.Patch(bytes, Version)).Message);
    }

    [Fact]
    public void A_truncated_image_is_refused_not_misread()
    {
        var bytes = File.ReadAllBytes(OutputCopy())[..4096];
        var e = Assert.Throws<InvalidDataException>(() => PatchElfVersionNeed.Patch(bytes, Version));
        Assert.Contains("out of bounds", e.Message);
        var b32 = File.ReadAllBytes(OutputCopy())[..128];
        b32[4] = 1; // ELFCLASS32
        Assert.Contains("64-bit little-endian", Assert.Throws<InvalidDataException>(() => PatchElfVersionNeed.Patch(b32, Version)).Message);
    }
}
