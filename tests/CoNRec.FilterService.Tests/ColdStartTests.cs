using CoNRec.Core;
using CoNRec.Store;
using CoNRec.Testing;
using CoNRec.V1;
using Grpc.Core;
using Xunit;

namespace CoNRec.FilterService.Tests;

/// <summary>
/// redis-server + a generation whose codebook file carries an RQ-VAE encoder + one service instance. The encoder is
/// the identity written as a two-layer ReLU MLP (relu(x) − relu(−x) = x), so an embedding equal to a SID's codeword
/// sum quantises back to that SID; codeword scales 1, 0.1, 0.01 per level keep residual quantisation unambiguous.
/// </summary>
public sealed class ColdStartFixture : IAsyncLifetime
{
    public const int Levels = 3, Codes = 32, Dim = 16;
    public static readonly uint[][] Predicted = [[3, 5, 7], [10, 2, 30]];

    public RedisServerProcess Redis { get; } = new RedisServerProcess().Start();
    public TempDir Data { get; } = new();
    public string Prefix { get; } = "cold" + Guid.NewGuid().ToString("N")[..6];
    public Codebook Codebook { get; private set; } = null!;
    public GenerationMeta Generation { get; private set; } = null!;
    public ServiceHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var rng = new Random(4);
        var codewords = new float[Levels * Codes * Dim];
        for (int i = 0; i < codewords.Length; i++) codewords[i] = SampleData.Gaussian(rng) * MathF.Pow(0.1f, i / (Codes * Dim));
        var w0 = new float[2 * Dim * Dim];   // [2d, d] = [I; −I]
        var w1 = new float[Dim * 2 * Dim];   // [d, 2d] = [I, −I]
        for (int j = 0; j < Dim; j++)
        {
            w0[(j * Dim) + j] = 1;
            w0[((Dim + j) * Dim) + j] = -1;
            w1[(j * 2 * Dim) + j] = 1;
            w1[(j * 2 * Dim) + Dim + j] = -1;
        }
        var bytes = SafeTensorsWriter.ToBytes(
        [
            SafeTensorsWriter.F32(Codebook.TensorName, [Levels, Codes, Dim], codewords),
            SafeTensorsWriter.F32("encoder.layers.0.weight", [2 * Dim, Dim], w0),
            SafeTensorsWriter.F32("encoder.layers.0.bias", [2 * Dim], new float[2 * Dim]),
            SafeTensorsWriter.F32("encoder.layers.1.weight", [Dim, 2 * Dim], w1),
            SafeTensorsWriter.F32("encoder.layers.1.bias", [Dim], new float[Dim]),
        ], new Dictionary<string, string> { [CodebookEncoder.ActivationKey] = "relu", [CodebookEncoder.InputNormKey] = "none" });
        File.WriteAllBytes(Data.File("codebook.safetensors"), bytes);
        File.WriteAllLines(Data.File("catalog.jsonl"), ["{\"item_id\":\"i1\",\"sid\":[3,5,7]}", "{\"item_id\":\"i2\",\"sid\":[1,1,1]}"]);
        File.WriteAllLines(Data.File("predictions.jsonl"), ["{\"user_id\":\"u1\",\"sids\":[[3,5,7],[10,2,30]]}"]);
        Codebook = Codebook.Load(Data.File("codebook.safetensors"));

        using var mux = await RedisConnection.ConnectAsync(Redis.Endpoint, allowAdmin: true);
        var result = await new GenerationLoader(mux, new RedisKeys(Prefix), new StoreOptions { KeyPrefix = Prefix })
            .LoadAsync(Data.File("codebook.safetensors"), Data.File("catalog.jsonl"), Data.File("predictions.jsonl"), publish: true);
        Generation = result.Meta;
        Host = await ServiceHost.StartAsync(Redis.Endpoint, Prefix);
        await Host.WaitReadyAsync(Generation.Id);
    }

    /// <summary>Σ_l codebook[l, sid[l]]: the latent the identity encoder must receive for the item to quantise to <paramref name="sid"/>.</summary>
    public float[] EmbeddingOf(params uint[] sid)
    {
        var v = new float[Dim];
        for (int l = 0; l < Levels; l++)
        {
            var w = Codebook.Codeword(l, (int)sid[l]);
            for (int j = 0; j < Dim; j++) v[j] += w[j];
        }
        return v;
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        Redis.Dispose();
        Data.Dispose();
    }
}

public sealed class ColdStartTests(ColdStartFixture f) : IClassFixture<ColdStartFixture>
{
    private static Candidate Cold(string itemId, float[] embedding)
    {
        var c = new Candidate { ItemId = itemId };
        c.Embedding.AddRange(embedding);
        return c;
    }

    private static FilterCandidatesRequest Request(params Candidate[] candidates)
    {
        var r = new FilterCandidatesRequest { UserId = "u1" };
        r.Candidates.AddRange(candidates);
        return r;
    }

    [Fact]
    public async Task A_cold_start_embedding_is_encoded_quantised_and_scored_like_its_sid()
    {
        uint[] other = [20, 9, 4];
        // Precondition, in Core: the embeddings quantise to the SIDs they were built from.
        var latent = new float[ColdStartFixture.Dim];
        var codes = new uint[ColdStartFixture.Levels];
        f.Codebook.Encoder!.Encode(f.EmbeddingOf(other), latent);
        f.Codebook.Quantize(latent, codes);
        Assert.Equal(other, codes);

        var response = await f.Host.Client.FilterCandidatesAsync(Request(
            Cold("new-hit", f.EmbeddingOf(ColdStartFixture.Predicted[1])),
            Cold("new-other", f.EmbeddingOf(other)),
            new Candidate { ItemId = "i2" },                                   // catalog path still works beside it
            new Candidate { ItemId = "never-seen" },                           // neither sid nor embedding nor catalog entry
            Cold("i1", f.EmbeddingOf(other))));                                // embedding wins over the catalog: no lookup

        Assert.Equal(f.Generation.Id, response.Generation);
        var d = response.Decisions;
        Assert.Equal(["new-hit", "new-other", "i2", "never-seen", "i1"], d.Select(x => x.ItemId));
        Assert.Equal((Reason.Scored, true, true, 1), (d[0].Reason, d[0].Rejected, d[0].WouldReject, d[0].MatchedIndex));
        Assert.Equal(1.0, d[0].Score, 5);

        var predicted = ColdStartFixture.Predicted.Select(p => f.Codebook.Layout.Pack(p)).ToList();
        var (expected, index) = LoadedServiceFixture.Reference(f.Codebook, f.Codebook.Layout.Pack(other), predicted);
        Assert.Equal(Reason.Scored, d[1].Reason);
        Assert.Equal(expected, d[1].Score, 5);
        Assert.Equal(index, d[1].MatchedIndex);
        Assert.Equal(d[1].Score > response.Threshold, d[1].Rejected);
        Assert.True(expected < 0.9, $"the unrelated SID must score below the threshold ({expected})");

        var (catalogScore, _) = LoadedServiceFixture.Reference(f.Codebook, f.Codebook.Layout.Pack([1, 1, 1]), predicted);
        Assert.Equal(Reason.Scored, d[2].Reason);
        Assert.Equal(catalogScore, d[2].Score, 5);
        Assert.Equal((Reason.UnknownItem, false), (d[3].Reason, d[3].Rejected));
        // "i1" is in the catalog with a predicted SID (would score 1), but its embedding says [20,9,4].
        Assert.Equal(d[1].Score, d[4].Score);
    }

    public static TheoryData<string, string> InvalidEmbeddings() => new()
    {
        { "wrong-length", "candidates[1].embedding has 12 values; the codebook encoder expects 16" },
        { "nan", "candidates[0].embedding[3] = NaN is not finite" },
        { "infinity", "candidates[0].embedding[0] = " },
        { "both", "candidates[0] sets both sid and embedding; set only one" },
    };

    [Theory]
    [MemberData(nameof(InvalidEmbeddings))]
    public async Task Invalid_embeddings_are_INVALID_ARGUMENT_naming_the_field(string @case, string message)
    {
        var good = f.EmbeddingOf(3, 5, 7);
        var request = @case switch
        {
            "wrong-length" => Request(Cold("a", good), Cold("b", new float[12])),
            "nan" => Request(Cold("a", [.. good[..3], float.NaN, .. good[4..]])),
            "infinity" => Request(Cold("a", [float.PositiveInfinity, .. good[1..]])),
            "both" => Request(new Candidate { ItemId = "a", Sid = { 3, 5, 7 }, Embedding = { good } }),
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };
        var ex = await Assert.ThrowsAsync<RpcException>(() => f.Host.Client.FilterCandidatesAsync(request).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains(message, ex.Status.Detail);
    }
}

/// <summary>The sample generation's codebook has no encoder: a cold-start candidate fails open as UNKNOWN_ITEM.</summary>
public sealed class ColdStartWithoutEncoderTests(LoadedServiceFixture f) : IClassFixture<LoadedServiceFixture>
{
    [Fact]
    public async Task Without_an_encoder_an_embedding_candidate_fails_open_as_unknown_item()
    {
        Assert.Null(f.Codebook.Encoder);
        var user = f.Predictions[0];
        var request = new FilterCandidatesRequest { UserId = user.UserId };
        var cold = new Candidate { ItemId = "new" };
        cold.Embedding.AddRange(new float[7]); // any length: there is no encoder to check it against
        request.Candidates.Add(cold);
        request.Candidates.Add(f.WithSid("known", user.Sids[0]));
        var r = await f.Host.Client.FilterCandidatesAsync(request);
        Assert.Equal((Reason.UnknownItem, false, false, -1), (r.Decisions[0].Reason, r.Decisions[0].Rejected, r.Decisions[0].WouldReject, r.Decisions[0].MatchedIndex));
        Assert.Equal((Reason.Scored, true), (r.Decisions[1].Reason, r.Decisions[1].Rejected));
    }
}
