using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.Extensions.Primitives;

namespace CoNRec.FilterService;

/// <summary>
/// The operator console: static files embedded in this assembly (AdminConsole/*), served at /admin/ on the admin port
/// only (the caller maps them in the admin-port group). The page needs no token to load and shows nothing until the
/// API accepts one; every data call goes through /admin/v1 and its bearer check. Responses carry a strong ETag (a hash
/// of the content, answered 304 on If-None-Match), a CSP that allows only this origin's scripts and styles (no inline
/// code, no frames, no other hosts), and nosniff.
/// </summary>
public static class AdminConsole
{
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

    private const string ResourcePrefix = "AdminConsole/";

    public sealed record Asset(string Name, byte[] Content, string ContentType, string ETag);

    /// <summary>Every embedded console file by name, hashed once at start.</summary>
    public static FrozenDictionary<string, Asset> Assets { get; } = Load();

    private static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(AdminConsole).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal)) continue;
            string name = resource[ResourcePrefix.Length..];
            if (ContentType(name) is not { } type) continue;
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var bytes = buffer.ToArray();
            assets[name] = new Asset(name, bytes, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 16))}\"");
        }
        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string? ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        _ => null,
    };

    public static void MapAdminConsole(this IEndpointRouteBuilder app)
    {
        // Routing ignores a trailing slash, so one endpoint answers both: "/admin" is sent to "/admin/".
        app.MapGet("/admin", (HttpContext context) =>
        {
            if (context.Request.Path.Value?.EndsWith('/') == true) return Serve(context, "index.html");
            SecurityHeaders(context.Response);
            return Results.Redirect("/admin/");
        });
        app.MapGet("/admin/{file}", (HttpContext context, string file) => Serve(context, file));
    }

    private static void SecurityHeaders(HttpResponse response)
    {
        var headers = response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
    }

    private static IResult Serve(HttpContext context, string file)
    {
        var response = context.Response;
        SecurityHeaders(response);
        if (!Assets.TryGetValue(file, out var asset)) return Results.Text("not found\n", "text/plain; charset=utf-8", statusCode: 404);
        response.Headers.ETag = asset.ETag;
        // Revalidate every time (a 304 costs one small round trip): a new build must never run with an old module.
        response.Headers.CacheControl = "no-cache";
        if (Matches(context.Request.Headers.IfNoneMatch, asset.ETag)) return Results.StatusCode(304);
        return Results.Bytes(asset.Content, asset.ContentType);
    }

    private static bool Matches(StringValues ifNoneMatch, string etag)
    {
        foreach (var value in ifNoneMatch)
        {
            if (value is null) continue;
            foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                string tag = part.StartsWith("W/", StringComparison.Ordinal) ? part[2..] : part;
                if (tag == "*" || tag == etag) return true;
            }
        }
        return false;
    }
}
