# syntax=docker/dockerfile:1
#
# Two images from one file:
#   docker build --target filter -t conrec-filter .
#   docker build --target batch --build-arg TORCH_DEVICE=cuda -t conrec-batch .
# With no --target the last stage (filter) is built.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Build.targets Directory.Packages.props ./
# build/ holds the MSBuild step that lets libLibTorchSharp.so load on Debian 12 (build/PatchElfVersionNeed.cs).
COPY build/ build/
COPY protos/ protos/
COPY src/ src/

# Each app is published in its own stage so BuildKit only runs what the target
# needs: the filter image never downloads libtorch, and changing TORCH_DEVICE
# does not invalidate the filter's cache. The NuGet cache mount keeps packages
# across builds without baking them into a layer.
# Both apps are published ReadyToRun (precompiled for linux-x64, still framework-dependent): a fresh pod starts on native
# code instead of tier-0 JIT; benchmarks/README.md has the fresh-replica figures. R2R needs the RID at restore too.
FROM build AS publish-filter
RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \
    dotnet restore src/CoNRec.FilterService -r linux-x64 \
 && dotnet publish src/CoNRec.FilterService -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
      -o /out/filter --no-restore -p:UseAppHost=false

FROM build AS publish-batch
# cpu or cuda: selects the TorchSharp native package. It changes the package
# graph, so restore and publish must both see it.
ARG TORCH_DEVICE=cpu
RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \
    dotnet restore src/CoNRec.Batch -r linux-x64 -p:TorchDevice=$TORCH_DEVICE \
 && dotnet publish src/CoNRec.Batch -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
      -o /out/batch --no-restore -p:UseAppHost=false -p:TorchDevice=$TORCH_DEVICE

FROM mcr.microsoft.com/dotnet/runtime:10.0 AS batch
WORKDIR /app
COPY --from=publish-batch /out/batch ./
# Lets the NVIDIA container runtime inject the driver's compute libraries;
# ignored on nodes without a GPU.
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility
# Numeric UID of the base image's non-root "app" user, so Kubernetes
# runAsNonRoot can verify it.
USER $APP_UID
ENTRYPOINT ["dotnet", "CoNRec.Batch.dll"]

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS filter
WORKDIR /app
COPY --from=publish-filter /out/filter ./
# Kestrel endpoints are configured in code; clear the base image's :8080
# default so it does not log an "overriding address" warning at startup.
ENV ASPNETCORE_HTTP_PORTS=
USER $APP_UID
# 50051: gRPC (h2c, or TLS with Tls__CertificateFile). 8081: admin, metrics, health. The admin listener stays on
# loopback unless Admin__BindAddress and a token (Admin__Token) are set.
EXPOSE 50051 8081
ENTRYPOINT ["dotnet", "CoNRec.FilterService.dll", "--grpc-bind", "0.0.0.0"]
