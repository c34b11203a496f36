using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace CoNRec.FilterService;

/// <summary>Kestrel's TLS from <see cref="TlsOptions"/>: the server certificate, and client-certificate checks against a private CA.</summary>
public static class TlsCertificates
{
    public static X509Certificate2 LoadServer(TlsOptions o) =>
        string.IsNullOrWhiteSpace(o.KeyFile)
            ? X509CertificateLoader.LoadPkcs12FromFile(o.CertificateFile!, null) // a .pfx carries its key
            : X509Certificate2.CreateFromPemFile(o.CertificateFile!, o.KeyFile);

    public static X509Certificate2 LoadCa(string path) => X509CertificateLoader.LoadCertificateFromFile(path);

    public static void Configure(HttpsConnectionAdapterOptions https, TlsOptions o, bool requireClientCertificate)
    {
        https.ServerCertificate = LoadServer(o);
        if (!requireClientCertificate || string.IsNullOrWhiteSpace(o.ClientCaFile)) return;
        var ca = LoadCa(o.ClientCaFile);
        https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
        // Only the configured CA is trusted for clients: a certificate from any public CA must not open the gRPC port.
        https.ClientCertificateValidation = (certificate, _, _) => ChainsTo(certificate, ca);
    }

    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck; // a private CA publishes no CRL; rotate short-lived certificates instead
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")); // clientAuth
        return chain.Build(certificate);
    }
}
