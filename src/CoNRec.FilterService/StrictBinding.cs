using System.Text;
using Google.Protobuf;
using Grpc.Core;

namespace CoNRec.V1;

/// <summary>
/// The service binding with request parsers that answer INVALID_ARGUMENT for bytes that are not the request message
/// (a truncated body, a wrong wire type, invalid UTF-8 in a string field). The generated binding lets those parse
/// errors escape as UNKNOWN "Exception was thrown by handler." with a stack trace in the log for every such call; here
/// they are a client error, logged as one short line. Responses serialise exactly as the generated code does.
/// </summary>
public static partial class NegativeFilter
{
    /// <summary>Set by the host: where the one-line parse failures go.</summary>
    internal static Microsoft.Extensions.Logging.ILogger? ParseFailureLog { get; set; }

    private static readonly Method<FilterCandidatesRequest, FilterCandidatesResponse> StrictFilterCandidates =
        new(MethodType.Unary, "conrec.v1.NegativeFilter", "FilterCandidates", Strict(FilterCandidatesRequest.Parser, "conrec.v1.FilterCandidatesRequest"), Response<FilterCandidatesResponse>());

    private static readonly Method<RecordFeedbackRequest, RecordFeedbackResponse> StrictRecordFeedback =
        new(MethodType.Unary, "conrec.v1.NegativeFilter", "RecordFeedback", Strict(RecordFeedbackRequest.Parser, "conrec.v1.RecordFeedbackRequest"), Response<RecordFeedbackResponse>());

    /// <summary>Named by <c>[BindServiceMethod]</c> on the service implementation, in place of the generated BindService.</summary>
    public static void BindServiceStrict(ServiceBinderBase serviceBinder, NegativeFilterBase serviceImpl)
    {
        ArgumentNullException.ThrowIfNull(serviceBinder);
        serviceBinder.AddMethod(StrictFilterCandidates, serviceImpl == null ? null! : new UnaryServerMethod<FilterCandidatesRequest, FilterCandidatesResponse>(serviceImpl.FilterCandidates));
        serviceBinder.AddMethod(StrictRecordFeedback, serviceImpl == null ? null! : new UnaryServerMethod<RecordFeedbackRequest, RecordFeedbackResponse>(serviceImpl.RecordFeedback));
    }

    private static Marshaller<T> Strict<T>(MessageParser<T> parser, string name) where T : IMessage<T> => Marshallers.Create<T>(
        (message, context) =>
        {
            context.SetPayloadLength(message.CalculateSize());
            message.WriteTo(context.GetBufferWriter());
            context.Complete();
        },
        context =>
        {
            string problem;
            try { return parser.ParseFrom(context.PayloadAsReadOnlySequence()); }
            catch (InvalidProtocolBufferException e) { problem = e.Message; }
            catch (DecoderFallbackException) { problem = "a string field is not valid UTF-8"; }
            catch (ArgumentException e) { problem = e.Message; }
            var message = $"the request is not a valid {name}: {problem}";
            ParseFailureLog?.Log(Microsoft.Extensions.Logging.LogLevel.Warning, "Rejected a malformed request: {Problem}", message);
            throw new RpcException(new Status(StatusCode.InvalidArgument, message));
        });

    private static Marshaller<T> Response<T>() where T : IMessage<T>, new() => Marshallers.Create<T>(
        (message, context) =>
        {
            context.SetPayloadLength(message.CalculateSize());
            message.WriteTo(context.GetBufferWriter());
            context.Complete();
        },
        context => new MessageParser<T>(() => new T()).ParseFrom(context.PayloadAsReadOnlySequence()));
}
