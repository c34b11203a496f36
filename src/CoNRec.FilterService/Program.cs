using CoNRec.FilterService;

return await FilterServiceHost.RunAsync(args);
