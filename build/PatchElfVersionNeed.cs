// Compiled twice: by MSBuild's RoslynCodeTaskFactory (build/LibTorchPortability.targets) and, as linked source,
// by CoNRec.Model.Tests, so the ELF parsing that runs in every build is unit-tested too. The task factory compiles
// against netstandard2.0, hence no spans here.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// libLibTorchSharp.so 0.107.0 is linked against GCC 13 and asks for GLIBCXX_3.4.32, but the only symbol it binds
/// under that version is the never-called anchor _ZSt21ios_base_library_initv. On a host whose libstdc++ stops at
/// 3.4.30 (Debian 12) the loader refuses the whole library. Marking that one version-need entry weak
/// (VER_FLG_WEAK in .gnu.version_r) turns the hard failure into a tolerated absence. Only build-output copies are
/// patched, always by writing a new file and renaming it, so a hard link into the NuGet cache is never written through.
/// </summary>
public sealed class PatchElfVersionNeed : Microsoft.Build.Utilities.Task
{
    public const ushort VerFlgWeak = 0x2;
    private const uint ShtGnuVerneed = 0x6ffffffe;

    public enum Outcome { Patched, AlreadyWeak, NotRequired }

    [Required] public ITaskItem[] Files { get; set; } = [];
    [Required] public string Version { get; set; } = "";

    /// <summary>Overrides the host library probe (tests, cross builds); empty means "the libstdc++ this process loaded".</summary>
    public string HostLibrary { get; set; } = "";

    public override bool Execute()
    {
        string host = HostLibrary.Length > 0 ? HostLibrary : FindLoadedLibStdCxx();
        if (host.Length > 0 && File.Exists(host) && LibraryDefines(host, Version))
        {
            Log.LogMessage(MessageImportance.Low, $"{host} defines {Version}; nothing to patch");
            return true;
        }
        foreach (var item in Files)
        {
            try
            {
                var outcome = PatchFile(item.ItemSpec, Version);
                Log.LogMessage(outcome == Outcome.Patched ? MessageImportance.High : MessageImportance.Low,
                    $"{item.ItemSpec}: {Version} version need {outcome switch { Outcome.Patched => "marked weak", Outcome.AlreadyWeak => "already weak", _ => "not present" }}");
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                Log.LogError($"{item.ItemSpec}: cannot mark {Version} weak: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>Patches a file in place via write-to-temp and rename; idempotent.</summary>
    public static Outcome PatchFile(string path, string version)
    {
        var bytes = File.ReadAllBytes(path);
        var outcome = Patch(bytes, version);
        if (outcome != Outcome.Patched) return outcome;
        string tmp = path + ".weak-tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Replace(tmp, path, null); // a rename: the old inode (possibly shared with the NuGet cache) is untouched
        return outcome;
    }

    /// <summary>Sets VER_FLG_WEAK on the vernaux entry named <paramref name="version"/> in an ELF64 little-endian image.</summary>
    public static Outcome Patch(byte[] elf, string version)
    {
        int offset = FindVernaux(elf, version);
        if (offset < 0) return Outcome.NotRequired;
        ushort flags = U16(elf, offset + 4);
        if ((flags & VerFlgWeak) != 0) return Outcome.AlreadyWeak;
        ushort weak = (ushort)(flags | VerFlgWeak);
        elf[offset + 4] = (byte)weak;
        elf[offset + 5] = (byte)(weak >> 8);
        return Outcome.Patched;
    }

    /// <summary>The vna_flags of the named version need, or -1 when the image does not need that version.</summary>
    public static int FlagsOf(byte[] elf, string version)
    {
        int offset = FindVernaux(elf, version);
        return offset < 0 ? -1 : U16(elf, offset + 4);
    }

    private static int FindVernaux(byte[] elf, string version)
    {
        Check(elf.Length >= 64 && elf[0] == 0x7f && elf[1] == (byte)'E' && elf[2] == (byte)'L' && elf[3] == (byte)'F', "not an ELF file");
        Check(elf[4] == 2 && elf[5] == 1, "only 64-bit little-endian ELF is supported");
        long shoff = (long)U64(elf, 0x28);
        int shentsize = U16(elf, 0x3a), shnum = U16(elf, 0x3c);
        Check(shentsize >= 64 && shoff > 0 && shoff + (long)shentsize * shnum <= elf.Length, "section header table out of bounds");
        byte[] wanted = Encoding.ASCII.GetBytes(version);
        for (int s = 0; s < shnum; s++)
        {
            int sh = checked((int)(shoff + (long)s * shentsize));
            if (U32(elf, sh + 4) != ShtGnuVerneed) continue;
            long off = (long)U64(elf, sh + 0x18), size = (long)U64(elf, sh + 0x20);
            uint link = U32(elf, sh + 0x28);
            Check(off >= 0 && off + size <= elf.Length, ".gnu.version_r out of bounds");
            Check(link < shnum, ".gnu.version_r links to a missing string table");
            int strSh = checked((int)(shoff + (long)link * shentsize));
            long strOff = (long)U64(elf, strSh + 0x18), strSize = (long)U64(elf, strSh + 0x20);
            Check(strOff >= 0 && strOff + strSize <= elf.Length, "version string table out of bounds");

            long vn = off;
            for (int guard = 0; guard < 4096; guard++)
            {
                Check(vn + 16 <= off + size, "Verneed entry out of bounds");
                int cnt = U16(elf, (int)vn + 2);
                long aux = vn + U32(elf, (int)vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    Check(aux + 16 <= off + size, "Vernaux entry out of bounds");
                    long name = strOff + U32(elf, (int)aux + 8);
                    if (NameEquals(elf, name, strOff + strSize, wanted)) return (int)aux;
                    uint next = U32(elf, (int)aux + 12);
                    if (next == 0) break;
                    aux += next;
                }
                uint vnNext = U32(elf, (int)vn + 12);
                if (vnNext == 0) break;
                vn += vnNext;
            }
        }
        return -1;
    }

    private static bool NameEquals(byte[] elf, long at, long end, byte[] wanted)
    {
        if (at < 0 || at + wanted.Length >= end) return false;
        for (int i = 0; i < wanted.Length; i++) if (elf[at + i] != wanted[i]) return false;
        return elf[at + wanted.Length] == 0;
    }

    /// <summary>True when the library's bytes contain the NUL-terminated version name (its version definitions do).</summary>
    public static bool LibraryDefines(string path, string version)
    {
        byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
        byte[] hay = File.ReadAllBytes(path);
        for (int i = 0; i + needle.Length <= hay.Length; i++)
        {
            if (hay[i] != needle[0]) continue;
            int j = 1;
            while (j < needle.Length && hay[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    /// <summary>The libstdc++ the running dotnet process mapped: exactly the one libtorch would get on this host.</summary>
    public static string FindLoadedLibStdCxx()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int i = line.IndexOf('/');
                if (i >= 0 && line.IndexOf("libstdc++.so", i, StringComparison.Ordinal) >= 0) return line.Substring(i).Trim();
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        foreach (var p in new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6" })
            if (File.Exists(p)) return p;
        return "";
    }

    private static void Check(bool ok, string message)
    {
        if (!ok) throw new InvalidDataException(message);
    }

    private static ushort U16(byte[] b, int o) { Check(o >= 0 && o + 2 <= b.Length, "read past the end of the file"); return BitConverter.ToUInt16(b, o); }
    private static uint U32(byte[] b, int o) { Check(o >= 0 && o + 4 <= b.Length, "read past the end of the file"); return BitConverter.ToUInt32(b, o); }
    private static ulong U64(byte[] b, int o) { Check(o >= 0 && o + 8 <= b.Length, "read past the end of the file"); return BitConverter.ToUInt64(b, o); }
}
