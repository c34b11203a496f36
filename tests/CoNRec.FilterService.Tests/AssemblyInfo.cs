using Xunit;

// Each class starts real servers; on a 2-core CI machine running them side by side only adds timing noise.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
