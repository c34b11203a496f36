using System.CommandLine;
using CoNRec.Batch.Cli;
using CoNRec.LoadClient;

// `load` is the default: options without a command word go to it.
var root = new RootCommand("Load and memory measurements for the CoNRec filter service.");
var load = LoadRunner.Command();
root.Subcommands.Add(load);
root.Subcommands.Add(StoreCommands.Seed());
root.Subcommands.Add(StoreCommands.Memory());
if (args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal) && args[0] is not ("--help" or "-h" or "--version")) args = ["load", .. args];
return await CliRunner.RunAsync(root, args, Console.Out, Console.Error);
