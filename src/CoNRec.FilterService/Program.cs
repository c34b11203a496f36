using CoNRec.FilterService;

var app = FilterServiceHost.Build(args);
await app.RunAsync();
