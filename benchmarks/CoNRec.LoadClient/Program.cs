using CoNRec.Batch;
using CoNRec.LoadClient;
using StackExchange.Redis;

const string Help = """
    usage: CoNRec.LoadClient [load] [options]       gRPC load against conrec.v1.NegativeFilter/FilterCandidates
             --target URL          default http://127.0.0.1:50051
             --connections N       separate GrpcChannels (own SocketsHttpHandler each), default 1
             --concurrency C       closed loop: C workers, each one call at a time (default 16)
             --rps R               open loop at R requests/s instead; latency counts from the intended send time
                                   (C workers share the schedule; default C = 64 in this mode)
             --duration S          measured seconds (default 20)     --warmup S   unmeasured seconds first (default 5)
             --candidates N        per request (default 500)         --users U    ids u0..u{U-1} (default 100000)
             --items I             ids i0..i{I-1} (default 50000)    --deadline-ms D   per call (default 1000)
             --sid-mode catalog|explicit   catalog (default): empty sid, the server looks items up;
                                   explicit: send each item's SID (from --catalog FILE, else random codes)
             --catalog FILE        catalog.jsonl of the seeded data (explicit mode)   --levels L --codes K (default 3, 8192)
             --pool P              prebuilt requests (default 256)   --scene S    --seed N
           CoNRec.LoadClient seed   --redis HOST:PORT --out DIR [--users 100000] [--items 50000] [--codes 8192] [--dim 256]
                                    [--levels 3] [--sids 20] [--key-prefix conrec] [--no-publish]
           CoNRec.LoadClient memory --redis HOST:PORT [--users 1000000] [--codes 8192] [--dim 16] [--sids 20] [--items 1000]
                                    [--levels 3] [--out DIR] [--key-prefix benchmem] [--keep]
                                    [--no-admin]  (the loader may not CONFIG SET: shows the cost of untuned listpack limits)
    """;

if (args.Length > 0 && args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(Help);
    return 0;
}
try
{
    var cl = new CoNRec.Batch.CommandLine(args, new HashSet<string> { "--no-publish", "--keep", "--no-admin" }, defaultCommand: "load");
    return cl.Command switch
    {
        "load" => await LoadRunner.RunAsync(LoadRunner.Parse(cl)),
        "seed" => await StoreCommands.SeedAsync(cl),
        "memory" => await StoreCommands.MemoryAsync(cl),
        _ => throw new UsageException($"unknown command '{cl.Command}'"),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(Help);
    return 2;
}
catch (Exception e) when (e is IOException or RedisException or InvalidOperationException or FormatException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
