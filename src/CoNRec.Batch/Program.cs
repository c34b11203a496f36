using CoNRec.Batch;

return await BatchCli.RunAsync(args, Console.Out, Console.Error);
