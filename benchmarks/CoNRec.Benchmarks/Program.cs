using BenchmarkDotNet.Running;

// Examples (from the repository root):
//   dotnet run -c Release --project benchmarks/CoNRec.Benchmarks -- --filter '*Scoring*'
//   dotnet run -c Release --project benchmarks/CoNRec.Benchmarks -- --filter '*' --job short
BenchmarkSwitcher.FromAssembly(typeof(CoNRec.Benchmarks.ScoringBenchmark).Assembly).Run(args);
